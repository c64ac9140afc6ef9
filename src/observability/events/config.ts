/**
 * `notifications` in the configuration (env NOTIFICATIONS as JSON text): endpoints that
 * receive events. Secrets (`secret`, `secretEnv`'s value, header values) are never
 * echoed in a message: problems name the endpoint and the field only.
 */
import { repositoryMatches } from "../../core/patterns.ts";
import type { EventAction, RegistryEvent } from "./envelope.ts";

export interface NotificationEndpoint {
  name: string;
  url: string;
  headers: Record<string, string>;
  /** HMAC-SHA256 key of the `X-Registry-Signature` header; none: unsigned. */
  secret?: string;
  /** Repository patterns (`team/*`); empty: every repository. */
  repositories: string[];
  /** Actions sent; empty: every action. */
  actions: EventAction[];
  timeoutMs: number;
  maxAttempts: number;
  /** First retry after this long, doubling each attempt, at most one hour. */
  backoffMs: number;
  /**
   * Node's outbox holds at most this many of the endpoint's events; past it new ones are
   * dropped (counted, logged once), so a dead receiver and a flood of pulls cannot fill the disk.
   */
  maxPending: number;
}

export interface NotificationsConfig {
  endpoints: NotificationEndpoint[];
}

const ACTIONS: EventAction[] = ["push", "pull", "delete", "gc"];
const KNOWN = ["name", "url", "urlEnv", "headers", "secret", "secretEnv", "repositories", "actions", "timeoutSeconds", "maxAttempts", "backoffSeconds", "maxPending"];

export function parseNotifications(raw: unknown, env: Record<string, string | undefined>): { config: NotificationsConfig; problems: string[] } {
  const problems: string[] = [];
  const fields = raw as { endpoints?: unknown } | null;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw) || !Array.isArray(fields?.endpoints) || Object.keys(raw).some((k) => k !== "endpoints")) {
    return { config: { endpoints: [] }, problems: ['must be {"endpoints": [{"name": "ci", "url": "https://…", …}]}'] };
  }
  const endpoints: NotificationEndpoint[] = [];
  (fields.endpoints as unknown[]).forEach((entry, index) => {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return void problems.push(`endpoint ${index} must be an object`);
    const e = entry as Record<string, unknown>;
    const name = typeof e.name === "string" && /^[A-Za-z0-9._-]{1,64}$/.test(e.name) ? e.name : undefined;
    const at = `endpoint ${name ?? index}`;
    if (!name) problems.push(`endpoint ${index}: name must be 1-64 letters, digits, ".", "_" or "-"`);
    for (const key of Object.keys(e)) if (!KNOWN.includes(key)) problems.push(`${at}: unknown field "${key}" (known: ${KNOWN.join(", ")})`);
    const rawUrl = typeof e.urlEnv === "string" ? env[e.urlEnv] : e.url;
    let url: string | undefined;
    try {
      url = typeof rawUrl === "string" && /^https?:$/.test(new URL(rawUrl).protocol) ? rawUrl : undefined;
    } catch {
      url = undefined;
    }
    if (!url) problems.push(`${at}: url (or the variable urlEnv names) must be an http(s) URL`);
    const secret = typeof e.secretEnv === "string" ? env[e.secretEnv] : e.secret;
    if (e.secretEnv !== undefined && (typeof e.secretEnv !== "string" || !secret)) problems.push(`${at}: secretEnv must name an environment variable that is set`);
    if (secret !== undefined && (typeof secret !== "string" || secret.length < 16)) problems.push(`${at}: the secret must be at least 16 characters`);
    const headers = e.headers ?? {};
    const headersValid = typeof headers === "object" && headers !== null && !Array.isArray(headers) && Object.entries(headers).every(([k, v]) => /^[A-Za-z0-9-]+$/.test(k) && typeof v === "string" && !/[\r\n]/.test(v));
    if (!headersValid) problems.push(`${at}: headers must map header names to single-line strings`);
    const list = (key: "repositories" | "actions") => {
      const value = e[key] ?? [];
      if (!Array.isArray(value) || !value.every((v) => typeof v === "string" && v !== "")) return void problems.push(`${at}: ${key} must be a list of strings`);
      return value as string[];
    };
    const repositories = list("repositories") ?? [];
    const actions = list("actions") ?? [];
    for (const action of actions) if (!ACTIONS.includes(action as EventAction)) problems.push(`${at}: actions may hold ${ACTIONS.join(", ")}, not ${JSON.stringify(action)}`);
    const number = (key: string, fallback: number, min: number, max: number) => {
      const value = e[key] ?? fallback;
      if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) problems.push(`${at}: ${key} must be a number from ${min} to ${max}`);
      return typeof value === "number" ? value : fallback;
    };
    const timeoutSeconds = number("timeoutSeconds", 5, 0.1, 300);
    const maxAttempts = number("maxAttempts", 8, 1, 100);
    const backoffSeconds = number("backoffSeconds", 1, 0.01, 3600);
    const maxPending = number("maxPending", 10_000, 1, 1_000_000);
    if (name && endpoints.some((other) => other.name === name)) problems.push(`${at}: the name is used twice`);
    if (!name || !url) return;
    endpoints.push({
      name,
      url,
      headers: headersValid ? { ...(headers as Record<string, string>) } : {},
      ...(typeof secret === "string" ? { secret } : {}),
      repositories,
      actions: actions as EventAction[],
      timeoutMs: Math.round(timeoutSeconds * 1000),
      maxAttempts: Math.floor(maxAttempts),
      backoffMs: Math.round(backoffSeconds * 1000),
      maxPending: Math.floor(maxPending),
    });
  });
  return { config: { endpoints }, problems };
}

/** Whether `endpoint` wants `event` (its repository and action filters). */
export function endpointWants(endpoint: NotificationEndpoint, event: RegistryEvent): boolean {
  if (endpoint.actions.length > 0 && !endpoint.actions.includes(event.action)) return false;
  return endpoint.repositories.length === 0 || endpoint.repositories.some((pattern) => repositoryMatches(pattern, event.target.repository));
}
