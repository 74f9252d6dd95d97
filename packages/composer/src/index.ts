/**
 * @module @virtos/composer
 * GenOS's composer: natural language -> EnvironmentSpec + findings, through normalisation, intent
 * recognition, entity extraction, catalog resolution, constraint validation and defaults
 * (docs/composer.md). Deterministic by default; a language model can be plugged in later.
 */
export { Composer } from './composer.js';
export type { ComposeOptions, ComposeResult, ComposerOptions } from './composer.js';
export type { ComposerModel, ModelProposalRequest } from './model.js';
export type { HostCapacity } from './stages/validate.js';
export type { Intent } from './stages/intent.js';
export { MAX_REQUEST_CHARS, normalize } from './stages/normalize.js';
export { Extractor } from './stages/extract.js';
export type { Entities } from './stages/extract.js';
export { recognizeIntent } from './stages/intent.js';
