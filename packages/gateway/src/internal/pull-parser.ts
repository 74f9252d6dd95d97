/**
 * A push-fed driver for pull-style parsers written as generators. The generator yields what it
 * needs next (read n bytes into a buffer, or skip n bytes) and gets the bytes back; the driver feeds
 * it whatever chunks arrive, however they are split. Skips never buffer, so a 4 MiB raw rectangle
 * costs no memory; reads are capped so a hostile length cannot make the parser allocate.
 */

/** What a parser needs next. */
export type Need = { readonly read: number } | { readonly skip: number };

/** A parser: yields needs, receives the bytes of a `read` (an empty array after a `skip`). */
export type ParserGenerator = Generator<Need, void, Uint8Array>;

const EMPTY = new Uint8Array(0);

/** Largest single `read` accepted (bytes); longer fields must be skipped. */
export const MAX_READ_BYTES = 64 * 1024;

/** Drives a {@link ParserGenerator} with chunks; stops (desynced) when it ends or throws. */
export class PullParser {
  private readonly gen: ParserGenerator;
  private need: Need | undefined;
  private acc: Uint8Array = EMPTY;
  private have = 0;
  /** Why parsing stopped, when it did. */
  stoppedReason: string | undefined;

  constructor(gen: ParserGenerator) {
    this.gen = gen;
    this.step(EMPTY, true);
  }

  /** True while the parser still follows the stream. */
  get isSynced(): boolean {
    return this.stoppedReason === undefined;
  }

  /** Feeds the next chunk of the stream. Never throws. */
  feed(chunk: Uint8Array): void {
    let off = 0;
    while (this.need && off < chunk.length) {
      const need = this.need;
      if ('skip' in need) {
        const take = Math.min(need.skip - this.have, chunk.length - off);
        this.have += take;
        off += take;
        if (this.have === need.skip) this.step(EMPTY, false);
      } else {
        const take = Math.min(need.read - this.have, chunk.length - off);
        this.acc.set(chunk.subarray(off, off + take), this.have);
        this.have += take;
        off += take;
        if (this.have === need.read) this.step(this.acc, false);
      }
    }
  }

  private step(value: Uint8Array, first: boolean): void {
    let input = value;
    let isFirst = first;
    for (;;) {
      let r: IteratorResult<Need, void>;
      try {
        r = isFirst ? this.gen.next() : this.gen.next(input);
      } catch (e) {
        this.stop(e instanceof Error ? e.message : String(e));
        return;
      }
      isFirst = false;
      if (r.done) {
        this.stop('parser finished');
        return;
      }
      const need = r.value;
      const n = 'skip' in need ? need.skip : need.read;
      if (!(Number.isInteger(n) && n >= 0)) {
        this.stop(`bad length ${n}`);
        return;
      }
      this.have = 0;
      if (n === 0) {
        input = EMPTY;
        continue;
      }
      if ('read' in need) {
        if (n > MAX_READ_BYTES) {
          this.stop(`read of ${n} bytes exceeds the cap`);
          return;
        }
        this.acc = new Uint8Array(n);
      }
      this.need = need;
      return;
    }
  }

  private stop(reason: string): void {
    this.need = undefined;
    this.acc = EMPTY;
    this.stoppedReason = reason;
  }
}
