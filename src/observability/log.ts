/**
 * The log port: one structured event per line. Node writes JSON lines (or
 * readable text at a terminal), Workers write JSON to the console (Workers
 * Logs indexes its fields), Lambda writes JSON to stdout (CloudWatch Logs).
 * Callers pass fields, never secrets: no Authorization value, token or
 * password is ever given to a logger (http/observe.ts builds the request
 * fields from the route and the caller's identity name only).
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  log(level: LogLevel, message: string, fields?: LogFields): void;
}

export interface LoggerOptions {
  level: LogLevel;
  /** "json": one JSON object per line; "text": `time LEVEL message key=value …` for people at a terminal. */
  format: "json" | "text";
  /** Where a finished line goes (without its newline). */
  write(line: string, level: LogLevel): void;
  now?: () => Date;
}

export function createLogger(options: LoggerOptions): Logger {
  const threshold = LOG_LEVELS.indexOf(options.level);
  const now = options.now ?? (() => new Date());
  return {
    log(level, message, fields = {}) {
      if (LOG_LEVELS.indexOf(level) < threshold) return;
      const time = now().toISOString();
      options.write(options.format === "json" ? JSON.stringify({ time, level, msg: message, ...defined(fields) }) : textLine(time, level, message, fields), level);
    },
  };
}

/** A logger that drops everything (tests and callers that were given none). */
export const silentLogger: Logger = { log: () => {} };

function defined(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) out[key] = value;
  return out;
}

function textLine(time: string, level: LogLevel, message: string, fields: LogFields): string {
  const pairs = Object.entries(fields)
    .filter(([, value]) => value !== undefined && value !== null && value !== "")
    .map(([key, value]) => `${key}=${typeof value === "string" && /[\s"=]/.test(value) ? JSON.stringify(value) : String(value)}`);
  return [time, level.toUpperCase().padEnd(5), message, ...pairs].join(" ");
}

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}
