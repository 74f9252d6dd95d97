/**
 * @module @virtos/core
 * The ground every VirtOS package stands on: the coded error type, Result, ids, the logger, the
 * clock, disposables and events. Runs in Node and in the browser; imports nothing.
 */
export {
  CoreErrors,
  ERROR_CLASSES,
  VirtosError,
  defineErrors,
  isCancellation,
  throwIfAborted,
  toVirtosError,
} from './errors.js';
export type { ErrorClass, ErrorFamily, ErrorJson, ErrorOptions } from './errors.js';
export { err, ok, unwrap } from './result.js';
export type { Err, Ok, Result } from './result.js';
export { ID_RANDOM_CHARS, isId, newId } from './ids.js';
export { ManualClock, systemClock } from './clock.js';
export type { Clock } from './clock.js';
export { DisposableStore, toDisposable } from './disposable.js';
export type { Disposable } from './disposable.js';
export { Emitter } from './event.js';
export type { Event } from './event.js';
export { createLogger, jsonLineSink, memorySink, nullLogger } from './logger.js';
export type { LogEntry, LogLevel, LogSink, Logger, LoggerOptions } from './logger.js';
