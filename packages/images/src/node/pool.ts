/**
 * The warm pool: mounted root file systems made ahead of time, so that provisioning a popular image
 * takes a ready mount instead of waiting for one (~5 ms here, but more with many layers or a busy
 * host). Acquired mounts belong to the caller; the pool refills itself in the background.
 */
import { join } from 'node:path';
import { nullLogger, type Logger } from '@virtos/core';
import { ImageErrors } from '../common/errors.js';
import type { ResolvedImage } from '../common/types.js';
import { mountRootfs, type MountedRootfs, type MountRootfsOptions } from './mount.js';

/** How the pool mounts: {@link mountRootfs} by default; tests pass a fake. */
export type Mounter = (image: ResolvedImage, opts: MountRootfsOptions) => Promise<MountedRootfs>;

/** Options of a {@link WarmPool}. */
export interface WarmPoolOptions {
  /** Directory under which the pool's mount points are made (e.g. `/run/virtos/pool`). */
  readonly dir: string;
  readonly mount?: Mounter;
  readonly logger?: Logger;
}

/** What the pool keeps for one image. */
export interface WarmPoolEntryOptions {
  /** Ready mounts to keep (0 disables warming but keeps the image known). */
  readonly size: number;
  /** Writable tmpfs size of each mount, MiB. */
  readonly writableMiB: number;
}

/** Counters of one key, for status pages and tests. */
export interface WarmPoolStats {
  readonly key: string;
  readonly ready: number;
  /** Mounts being made right now. */
  readonly filling: number;
  readonly size: number;
  /** Writable tmpfs size of each mount, MiB (a provisioner uses the pool only when it matches). */
  readonly writableMiB: number;
  /** Acquires served from a ready mount / by mounting on demand. */
  readonly hits: number;
  readonly misses: number;
}

interface Entry {
  image: ResolvedImage;
  opts: WarmPoolEntryOptions;
  ready: MountedRootfs[];
  filling: number;
  hits: number;
  misses: number;
  idle: Promise<void>;
  failures: number;
}

/** Failed fills in a row after which a key stops refilling until its next acquire. */
const MAX_FILL_FAILURES = 3;

/** Keeps N mounted root file systems per image key ready; see the module comment. */
export class WarmPool {
  private readonly entries = new Map<string, Entry>();
  private readonly mount: Mounter;
  private readonly log: Logger;
  private seq = 0;
  private disposed = false;

  constructor(private readonly opts: WarmPoolOptions) {
    this.mount = opts.mount ?? mountRootfs;
    this.log = opts.logger ?? nullLogger;
  }

  /** Starts keeping `entry.size` ready mounts of `image` (by `image.key`). Re-registering resizes. */
  register(image: ResolvedImage, entry: WarmPoolEntryOptions): void {
    this.assertOpen();
    const e = this.entries.get(image.key);
    if (e) {
      e.image = image;
      e.opts = entry;
      e.failures = 0;
    } else {
      this.entries.set(image.key, {
        image,
        opts: entry,
        ready: [],
        filling: 0,
        hits: 0,
        misses: 0,
        idle: Promise.resolve(),
        failures: 0,
      });
    }
    this.fill(image.key);
  }

  /**
   * A mounted root for `key`: a ready one at once when there is one, else a fresh mount. Either way a
   * refill starts in the background. The caller owns (and disposes) what it gets.
   */
  async acquire(key: string): Promise<MountedRootfs> {
    this.assertOpen();
    const e = this.entries.get(key);
    if (!e) {
      throw ImageErrors.create('not_found', `The warm pool knows no image ${key.slice(0, 12)}.`, {
        subject: key,
        hint: 'Register the image with WarmPool.register first.',
      });
    }
    e.failures = 0;
    const got = e.ready.shift();
    if (got) {
      e.hits += 1;
      this.fill(key);
      return got;
    }
    e.misses += 1;
    const m = await this.mountOne(e);
    this.fill(key);
    return m;
  }

  /** Counters per key (or of one key). */
  stats(key?: string): WarmPoolStats[] {
    const out: WarmPoolStats[] = [];
    for (const [k, e] of this.entries) {
      if (key !== undefined && k !== key) continue;
      out.push({
        key: k,
        ready: e.ready.length,
        filling: e.filling,
        size: e.opts.size,
        writableMiB: e.opts.writableMiB,
        hits: e.hits,
        misses: e.misses,
      });
    }
    return out;
  }

  /** Resolves when no background fill is running (for tests and benchmarks). */
  async settled(): Promise<void> {
    for (;;) {
      const busy = [...this.entries.values()].filter((e) => e.filling > 0);
      if (busy.length === 0) return;
      await Promise.all(busy.map((e) => e.idle));
    }
  }

  /** Stops keeping `key` warm and disposes its ready mounts. */
  async unregister(key: string): Promise<void> {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    await e.idle;
    await Promise.all(e.ready.splice(0).map((m) => m.dispose()));
  }

  /** Unmounts every ready mount (acquired ones stay with their owners). Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const all = [...this.entries.keys()];
    const errors: unknown[] = [];
    for (const k of all) await this.unregister(k).catch((e: unknown) => errors.push(e));
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1)
      throw new AggregateError(errors, 'Several warm mounts failed to unmount.');
  }

  private assertOpen(): void {
    if (this.disposed) {
      throw ImageErrors.create('invalid_request', 'The warm pool has been disposed.', {
        hint: 'Make a new WarmPool.',
      });
    }
  }

  private mountOne(e: Entry): Promise<MountedRootfs> {
    const n = this.seq++;
    const target = join(this.opts.dir, `${e.image.key.slice(0, 12)}-${process.pid}-${n}`);
    return this.mount(e.image, { target, writableMiB: e.opts.writableMiB });
  }

  /** Tops `key` up to its size in the background, one mount at a time. */
  private fill(key: string): void {
    const e = this.entries.get(key);
    if (!e || this.disposed || e.filling > 0) return;
    const missing = () => e.opts.size - e.ready.length - e.filling;
    if (missing() <= 0 || e.failures >= MAX_FILL_FAILURES) return;
    e.filling += 1;
    e.idle = (async () => {
      try {
        while (
          missing() + 1 > 0 &&
          !this.disposed &&
          this.entries.get(key) === e &&
          e.failures < MAX_FILL_FAILURES
        ) {
          try {
            const m = await this.mountOne(e);
            if (this.disposed || this.entries.get(key) !== e) await m.dispose();
            else e.ready.push(m);
          } catch (err) {
            e.failures += 1;
            this.log.warn('warm pool fill failed', { key, error: String(err) });
          }
        }
      } finally {
        e.filling -= 1;
      }
    })();
  }
}
