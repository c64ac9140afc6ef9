/** Reading the Node runtime's configuration: REGISTRY_CONFIG (a JSON file), AUTH_CONFIG(_FILE) and the environment. */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { ConfigError, resolveConfig, type RegistryConfig } from "../config/schema.ts";

export function loadConfig(): RegistryConfig {
  const path = process.env.REGISTRY_CONFIG;
  let file: Record<string, unknown> = {};
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      throw new ConfigError([`REGISTRY_CONFIG=${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"}): is the path right?`]);
    }
    try {
      file = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      // Where, not what: V8 quotes the text around a syntax error, and the file may hold secrets (auth).
      const where = /at position \d+( \(line \d+ column \d+\))?/.exec((error as Error).message)?.[0] ?? "";
      throw new ConfigError([`REGISTRY_CONFIG=${path} is not valid JSON: syntax error ${where}`.trim()]);
    }
  }
  const config = resolveConfig(file, { ...process.env, AUTH_CONFIG: process.env.AUTH_CONFIG ?? readAuthConfigFile() });
  return config;
}

/** AUTH_CONFIG_FILE: the auth section in a file of its own (e.g. a mounted secret). */
function readAuthConfigFile(): string | undefined {
  const path = process.env.AUTH_CONFIG_FILE;
  if (!path) return undefined;
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError([`AUTH_CONFIG_FILE=${path} could not be read: ${(error as NodeJS.ErrnoException).code ?? "error"}`]);
  }
}

/** `processes` 0 means one per core the process may use. */
export function processCount(config: RegistryConfig): number {
  return config.processes > 0 ? config.processes : availableParallelism();
}
