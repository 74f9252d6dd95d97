/**
 * Phrase matching over the tokens of a normalised request: every catalog alias and keyword, and
 * every cue of the lexicon, is a phrase of one or more words. Matching is by token, so 'go' never
 * matches inside 'google', and a trailing plural 's' is tolerated ('browsers' matches 'browser').
 */

/** A phrase found in the request. `start`/`end` are token positions (end exclusive). */
export interface PhraseMatch<T> {
  readonly value: T;
  readonly phrase: string;
  readonly start: number;
  readonly end: number;
}

/** Words that, in the two tokens before a phrase, negate it ("without firefox", "no gui"). */
const NEGATORS = new Set([
  'no',
  'not',
  'without',
  'except',
  'minus',
  'remove',
  'drop',
  'uninstall',
  'delete',
  'exclude',
  'excluding',
  'disable',
  'nor',
  "don't",
  'dont',
  'never',
  'rid',
]);

/** The request as tokens, with hyphenated words also split when the whole word is unknown. */
export class Tokens {
  readonly list: readonly string[];

  constructor(text: string, knownWords: ReadonlySet<string>, splitHyphens = true) {
    const out: string[] = [];
    for (const t of text.trim().split(' ')) {
      if (t === '') continue;
      const parts = t.split('-').filter(Boolean);
      // 'debian-desktop' is two words; 'db-server' is a name: split only when every part is known.
      if (
        splitHyphens &&
        parts.length > 1 &&
        !knownWords.has(t) &&
        parts.every((p) => knownWords.has(p))
      ) {
        out.push(...parts);
      } else out.push(t);
    }
    this.list = out;
  }

  /** The token at `i`, or '' past either end. */
  at(i: number): string {
    return this.list[i] ?? '';
  }

  /** True when one of the two tokens before `start` negates what follows. */
  isNegated(start: number): boolean {
    return NEGATORS.has(this.at(start - 1)) || NEGATORS.has(this.at(start - 2));
  }

  /** The joined text of tokens [start, end). */
  slice(start: number, end: number): string {
    return this.list.slice(start, end).join(' ');
  }
}

function tokenMatches(token: string, word: string, isLast: boolean): boolean {
  if (token === word) return true;
  if (!isLast || word.length < 3) return false;
  return token === `${word}s` || token === `${word}es`;
}

/** An index of phrases by first word, built once and matched against many requests. */
export class PhraseIndex<T> {
  private readonly byFirst = new Map<string, { words: string[]; phrase: string; value: T }[]>();
  /** Every word of every phrase (for the tokenizer's hyphen rule). */
  readonly words = new Set<string>();

  /** Adds a phrase (lowercase words separated by single spaces). */
  add(phrase: string, value: T): void {
    const words = phrase.split(' ').filter(Boolean);
    const first = words[0];
    if (!first) return;
    for (const w of words) this.words.add(w);
    for (const key of [first, `${first}s`, `${first}es`]) {
      if (key !== first && words.length > 1) continue;
      const list = this.byFirst.get(key) ?? [];
      list.push({ words, phrase, value });
      this.byFirst.set(key, list);
    }
  }

  /**
   * All matches, longest first at each position; a shorter match inside a longer one of the same
   * index is dropped ('libreoffice writer' hides 'libreoffice').
   */
  match(tokens: Tokens): PhraseMatch<T>[] {
    const found: PhraseMatch<T>[] = [];
    const list = tokens.list;
    for (let i = 0; i < list.length; i++) {
      const candidates = this.byFirst.get(list[i] as string);
      if (!candidates) continue;
      for (const c of candidates) {
        if (i + c.words.length > list.length) continue;
        let ok = true;
        for (let k = 0; k < c.words.length; k++) {
          if (
            !tokenMatches(list[i + k] as string, c.words[k] as string, k === c.words.length - 1)
          ) {
            ok = false;
            break;
          }
        }
        if (ok) found.push({ value: c.value, phrase: c.phrase, start: i, end: i + c.words.length });
      }
    }
    found.sort((a, b) => b.end - b.start - (a.end - a.start) || a.start - b.start);
    const kept: PhraseMatch<T>[] = [];
    for (const m of found) {
      const inside = kept.some(
        (k) => m.start >= k.start && m.end <= k.end && (m.start !== k.start || m.end !== k.end),
      );
      if (!inside) kept.push(m);
    }
    return kept.sort((a, b) => a.start - b.start);
  }
}

/** True when `text` (normalised, space-padded) contains `phrase` as whole words. */
export function hasPhrase(text: string, phrase: string): boolean {
  return text.includes(` ${phrase} `);
}

/** True when any of the phrases occurs. Returns the first found, or undefined. */
export function findPhrase(text: string, phrases: readonly string[]): string | undefined {
  return phrases.find((p) => hasPhrase(text, p));
}
