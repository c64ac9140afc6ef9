/** The Node runtime's logger: JSON lines on stdout, or readable text when stdout is a terminal (logFormat auto). */
import type { RegistryConfig } from "../config/schema.ts";
import { createLogger, type Logger } from "../observability/log.ts";

export function nodeLogger(config: Pick<RegistryConfig, "logLevel" | "logFormat">): Logger {
  const format = config.logFormat === "auto" ? (process.stdout.isTTY ? "text" : "json") : config.logFormat;
  return createLogger({ level: config.logLevel, format, write: (line) => process.stdout.write(`${line}\n`) });
}
