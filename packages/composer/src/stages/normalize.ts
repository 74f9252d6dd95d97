/**
 * Stage 1: normalisation. Folds Unicode, case, quotes and whitespace so that later stages match
 * words, and refuses input that is too long or not text.
 */
import { finding, type Finding } from '@virtos/spec';

/** Requests longer than this many characters are refused (a request is a sentence or two). */
export const MAX_REQUEST_CHARS = 4000;

/** The normalised request. */
export interface NormalizedRequest {
  /** The text as given. */
  readonly original: string;
  /** Lowercase, folded, single-spaced text with a space at each end, for phrase matching. */
  readonly text: string;
  /** Blocking findings when the input cannot be read as a request. */
  readonly findings: readonly Finding[];
}

/** Share of characters that must be letters, digits, spaces or common punctuation. */
const MIN_TEXT_RATIO = 0.6;

/** Normalises a request. Never throws. */
export function normalize(input: string): NormalizedRequest {
  const original = typeof input === 'string' ? input : String(input);
  if (original.length > MAX_REQUEST_CHARS) {
    return {
      original,
      text: '',
      findings: [
        finding(
          'unsupported',
          'request',
          `The request is ${original.length} characters long; the limit is ${MAX_REQUEST_CHARS}. Describe the environment in a sentence or two.`,
          { code: 'request.too_long' },
        ),
      ],
    };
  }
  let text = original.normalize('NFKC');
  const total = [...text].length;
  const readable = (text.match(/[\p{L}\p{N}\s.,;:!?'"()\-/@+#&*%$]/gu) ?? []).length;
  if (total > 0 && readable / total < MIN_TEXT_RATIO) {
    return {
      original,
      text: '',
      findings: [
        finding('unsupported', 'request', 'The request is not readable text.', {
          code: 'request.unreadable',
        }),
      ],
    };
  }
  text = text
    .toLowerCase()
    .replace(/[\u2018\u2019\u201a\u201b`´]/g, "'")
    .replace(/[\u201c\u201d\u201e\u201f«»]/g, '"')
    .replace(/[\u2010-\u2015\u2212]/g, '-')
    .replace(/[\p{Cc}\p{Cf}]/gu, ' ')
    // Punctuation that separates words becomes a space; keep characters that live inside tokens
    // (dots of domains and versions, dashes, plus signs of c++, slashes of 'tcp/ip').
    .replace(/[,;!?()[\]{}"<>|\\]/g, ' ')
    .replace(/(^|\s)'+|'+(?=\s|$)/g, ' ')
    .replace(/\.(?=\s|$)/g, ' ')
    .replace(/(^|\s)\.(?=[a-z0-9])/g, '$1')
    .replace(/:(?=\s|$)/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return { original, text: ` ${text} `, findings: [] };
}
