/**
 * Structured logger: each entry is one object (level, time, message, fields), written to a sink.
 * The default sink writes JSON lines to stderr so stdout stays free for command output.
 */
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';

/** Severity, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** One log entry. `time` is milliseconds since the Unix epoch. */
export interface LogEntry {
  readonly level: LogLevel;
  readonly time: number;
  readonly msg: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** Where entries go. */
export type LogSink = (entry: LogEntry) => void;

/** Logs structured entries; `child` adds fields to every entry. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  readonly level?: LogLevel;
  readonly sink?: LogSink;
  readonly clock?: Clock;
  readonly fields?: Record<string, unknown>;
}

/** A sink writing one JSON line per entry to a writable stream-like target. */
export function jsonLineSink(write: (line: string) => void): LogSink {
  return (e) =>
    write(JSON.stringify({ level: e.level, time: e.time, msg: e.msg, ...e.fields }) + '\n');
}

/** A sink that keeps entries in memory: for tests. */
export function memorySink(): LogSink & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const sink = ((e: LogEntry) => void entries.push(e)) as LogSink & { entries: LogEntry[] };
  sink.entries = entries;
  return sink;
}

/** Makes a logger. Without a sink it discards everything (libraries log only when asked). */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = LEVEL_ORDER[options.level ?? 'info'];
  const sink = options.sink ?? (() => {});
  const clock = options.clock ?? systemClock;
  const base = options.fields ?? {};
  const log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (LEVEL_ORDER[level] < min) return;
    sink({ level, time: clock.now(), msg, fields: { ...base, ...fields } });
  };
  return {
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
    child: (fields) => createLogger({ ...options, fields: { ...base, ...fields } }),
  };
}

/** A logger that drops everything. */
export const nullLogger: Logger = createLogger();
