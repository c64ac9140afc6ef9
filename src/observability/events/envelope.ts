/**
 * Registry events in Distribution's notification envelope
 * (`application/vnd.docker.distribution.events.v1+json`), so receivers written for
 * Distribution (notifications/event.go there) work unchanged: `{"events":[…]}` with
 * id, timestamp, action, target, request, actor and source per event. The body is
 * signed with HMAC-SHA256 (WebCrypto: every runtime) when an endpoint has a secret.
 */
export const EVENTS_MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json";

/** Distribution's actions (push, pull, delete) and ours for collection. */
export type EventAction = "push" | "pull" | "delete" | "gc";

export interface RegistryEvent {
  id: string;
  timestamp: string;
  action: EventAction;
  target: {
    mediaType?: string;
    digest?: string;
    size?: number;
    length?: number;
    repository: string;
    url?: string;
    tag?: string;
  };
  request: { id: string; addr?: string; host?: string; method: string; useragent?: string };
  actor: { name?: string };
  source: { addr?: string; instanceID: string };
}

export function envelopeOf(events: RegistryEvent[]): string {
  return JSON.stringify({ events });
}

/** `sha256=<hex>` of HMAC-SHA256(secret, body): the value of the signature header. */
export async function signatureOf(secret: string, body: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(body)));
  return `sha256=${Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
