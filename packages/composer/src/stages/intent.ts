/**
 * Stage 2: intent. A request either creates a new environment or modifies a given spec.
 */
import { hasPhrase } from './phrases.js';

/** What the request wants done. */
export type Intent = 'create' | 'modify';

const EDIT_OPENERS = [
  'add',
  'remove',
  'drop',
  'uninstall',
  'install',
  'also',
  'give it',
  'make it',
  'switch to',
  'switch it to',
  'change',
  'set',
  'increase',
  'decrease',
  'reduce',
  'raise',
  'bump',
  'lower',
  'more',
  'less',
  'upgrade',
  'downgrade',
  'turn off',
  'turn on',
  'enable',
  'disable',
  'allow',
  'block',
  'replace',
  'swap',
  'rename',
  'let it',
  'put',
  'double',
  'halve',
  'cut',
  'use',
  'move it to',
  'plus',
  'take away',
  'get rid of',
];
const NEW_OPENERS = ['new', 'another', 'create', 'a new', 'make a new', 'start a new', 'fresh'];

/**
 * Recognises the intent. With a base spec the request modifies it unless it clearly asks for a new
 * environment; without one it always creates (an edit-like request then creates, and says so).
 */
export function recognizeIntent(
  text: string,
  hasBase: boolean,
): { intent: Intent; editLike: boolean } {
  const first = text.trim();
  const editLike = EDIT_OPENERS.some((o) => first === o || first.startsWith(`${o} `));
  if (!hasBase) return { intent: 'create', editLike };
  const asksNew =
    NEW_OPENERS.some((o) => first.startsWith(`${o} `)) &&
    (hasPhrase(text, 'environment') ||
      hasPhrase(text, 'one') ||
      hasPhrase(text, 'box') ||
      hasPhrase(text, 'desktop'));
  return { intent: asksNew && !editLike ? 'create' : 'modify', editLike };
}
