/**
 * Logging. Stelar calls `logger[level](fields, message)`: the argument order of pino and bunyan
 * (the fields are merged into the log record); `console` prints both. Nothing here touches
 * `process`: the server and the Node client read `DEBUG` and hand the core a logger.
 */

/** Levels Stelar logs at. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Structured context of one log line (`conn`, `code`, `err`, …). */
export type LogFields = Record<string, unknown>;

/** One level of a logger: `(fields, message)`, as pino's and bunyan's methods take them. */
export type LogMethod = (fields: LogFields, message: string) => void;

/**
 * A logger: pino, bunyan, `console`, or any object with these four methods. Stelar calls
 * `logger.info({ conn: 'x1', code: 1000 }, 'connection closed')`. A logger whose methods take a
 * message only is adapted in one line: `{ info: (_f, m) => log(m), … }`.
 */
export interface Logger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** The method of a level a `consoleLogger` drops: the core treats it as off (nothing is built for it). */
const off: LogMethod = () => undefined;

/** Where to write: `console`, or anything with the same four methods. */
export interface ConsoleLike {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/**
 * A logger writing one line per call to `console` (or `out`): `stelar:server connection closed
 * conn=x1 code=1000`. Levels below `level` are dropped before anything is formatted. Errors in
 * the fields are printed with their stack.
 */
export function consoleLogger(namespace: string, level: LogLevel = 'warn', out: ConsoleLike = console): Logger {
  const min = LEVELS.indexOf(level);
  const make = (l: LogLevel): LogMethod => {
    if (LEVELS.indexOf(l) < min) return off;
    return (fields, message) => {
      let line = `${namespace} ${message}`;
      let err: unknown;
      for (const key of Object.keys(fields)) {
        const v = fields[key];
        if (v === undefined) continue;
        if (v instanceof Error) {
          err = v;
          continue;
        }
        line += ` ${key}=${typeof v === 'string' ? v : safeJson(v)}`;
      }
      if (err !== undefined) out[l](line, err);
      else out[l](line);
    };
  };
  return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/**
 * Whether `namespace` is switched on by a `DEBUG`-style list (the convention of the `debug`
 * package that Socket.IO uses): names separated by commas or spaces, `*` matching anything,
 * a leading `-` switching a name off. `stelar:*` switches on `stelar:server` and `stelar:client`.
 */
export function debugEnabled(spec: string | undefined, namespace: string): boolean {
  if (!spec) return false;
  let on = false;
  for (const raw of spec.split(/[\s,]+/)) {
    if (!raw) continue;
    const skip = raw.startsWith('-');
    const pattern = skip ? raw.slice(1) : raw;
    const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    if (re.test(namespace)) {
      if (skip) return false;
      on = true;
    }
  }
  return on;
}

/**
 * The logger as the core's parts hold it: one slot per level, `undefined` when the level is off,
 * so that a call site costs one property read and nothing is built when it is off:
 * `log.debug?.({ conn: id }, 'connection accepted')` (the fields object is never created).
 */
export class LogSink {
  readonly debug: LogMethod | undefined;
  readonly info: LogMethod | undefined;
  readonly warn: LogMethod | undefined;
  readonly error: LogMethod | undefined;

  constructor(logger: Logger | false | undefined, levels: readonly LogLevel[] = LEVELS) {
    const pick = (l: LogLevel): LogMethod | undefined => {
      if (!logger || !levels.includes(l) || typeof logger[l] !== 'function' || logger[l] === off) return undefined;
      const fn = logger[l];
      return (fields, message) => {
        try {
          fn.call(logger, fields, message);
        } catch {
          /* a logger that throws must not break the server */
        }
      };
    };
    this.debug = pick('debug');
    this.info = pick('info');
    this.warn = pick('warn');
    this.error = pick('error');
  }
}

/** The core's default: warnings and errors to `console`, nothing below. */
export function defaultLogger(namespace: string): Logger {
  return consoleLogger(namespace, 'warn');
}
