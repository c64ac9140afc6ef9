/**
 * What a client controls must not make an event or audit entry lie, and the recorder must
 * never change an answer (issue 18, adversarial review): a /v2/ path that percent-encodes
 * its name is refused, and elsewhere the repository recorded is the one the registry changed,
 * however the path spelled it; target URLs name the configured public URL,
 * not the Host header; a repeated ?tag= is one event; a failing audit store leaves a committed
 * push answered 201.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { createApp, type AppOptions } from "../../src/http/app.ts";
import type { EventSink } from "../../src/http/events.ts";
import type { Maintenance } from "../../src/http/routes/admin.ts";
import { parseNotifications } from "../../src/observability/events/config.ts";
import type { RegistryEvent } from "../../src/observability/events/envelope.ts";
import type { AuditEntry } from "../../src/observability/events/outbox.ts";
import { envelopesFor } from "../../src/observability/events/queued-delivery.ts";
import type { LogFields } from "../../src/observability/log.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";
import { OCI_CONFIG, OCI_MANIFEST, pushBlob } from "../ui/push.ts";

function recordingRegistry(options: { publicUrl?: string; audit?: EventSink["audit"]; deleteRepository?: Maintenance["deleteRepository"] } = {}) {
  const lines: { message: string; fields: LogFields }[] = [];
  const events: RegistryEvent[] = [];
  const audits: AuditEntry[] = [];
  const appOptions: AppOptions = {
    observation: { logger: { log: (_level, message, fields = {}) => void lines.push({ message, fields }) } },
    events: { sink: { record: (found) => void events.push(...found), audit: options.audit ?? ((entry) => void audits.push(entry)) }, source: { instanceID: "test" } },
    ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
    ...(options.deleteRepository ? { maintenance: { usage: async () => ({}), collect: async () => ({}), deleteRepository: options.deleteRepository } } : {}),
  };
  const app = createApp({ blobs: new MemoryBlobStore(), metadata: new MemoryMetadataStore(), hashing: hashWasm, partSize: MIN_PART_SIZE }, appOptions);
  const request = async (path: string, init?: RequestInit) => app.request(path, init);
  const pushManifestAt = async (path: string, host = "registry.example.com") => {
    const config = await pushBlob(request, "blue/app", new TextEncoder().encode("{}"), OCI_CONFIG);
    return request(`http://${host}${path}`, {
      method: "PUT",
      headers: { "content-type": OCI_MANIFEST },
      body: JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [] }),
    });
  };
  return { request, pushManifestAt, lines, events, audits };
}

describe("events and audit entries a client cannot bend", () => {
  it("refuses a /v2/ path that percent-encodes the repository name: nothing changes, no event", async () => {
    const registry = recordingRegistry();
    const res = await registry.pushManifestAt("/v2/bl%75e/app/manifests/v%31");
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe("NAME_INVALID");
    expect((await registry.request("/v2/blue/app/manifests/v1")).status).toBe(404);
    expect(registry.events.filter((event) => event.action === "push")).toEqual([]);
  });

  it("names the repository a change was made to when a path outside /v2/ percent-encodes it", async () => {
    const deleted: string[] = [];
    const registry = recordingRegistry({ deleteRepository: async (name) => (deleted.push(name), { manifests: 0, tags: 0 }) });
    expect((await registry.request("/admin/repositories/bl%75e/app", { method: "DELETE" })).status).toBe(200);
    expect(deleted).toEqual(["blue/app"]);
    const event = registry.events.find((found) => found.action === "delete");
    expect(event?.target).toMatchObject({ repository: "blue/app" });
    expect(registry.audits.find((entry) => entry.action === "delete:repository")).toMatchObject({ repository: "blue/app" });
    const logged = registry.lines.find((line) => line.message === "request" && line.fields.method === "DELETE");
    expect(logged?.fields.repository).toBe("blue/app");
    // An endpoint that only wants blue/* hears of it.
    const { config } = parseNotifications({ endpoints: [{ name: "blue-only", url: "https://hooks.example.com/", repositories: ["blue/*"] }] }, {});
    expect(envelopesFor(config.endpoints, [event!])).toHaveLength(1);
  });

  it("builds target URLs on the public URL, not on the Host header the client sent", async () => {
    const registry = recordingRegistry({ publicUrl: "https://registry.example.com" });
    expect((await registry.pushManifestAt("/v2/blue/app/manifests/v1", "evil.example")).status).toBe(201);
    const push = registry.events.find((event) => event.action === "push");
    expect(push?.target.url).toMatch(/^https:\/\/registry\.example\.com\/v2\/blue\/app\/manifests\/sha256:[0-9a-f]{64}$/);
  });

  it("sends one push event per tag stored, however often the query repeats a tag", async () => {
    const registry = recordingRegistry();
    const config = await pushBlob(registry.request, "blue/app", new TextEncoder().encode("{}"), OCI_CONFIG);
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [] });
    const digest = `sha256:${createHash("sha256").update(manifest).digest("hex")}`;
    const repeated = Array.from({ length: 500 }, () => "tag=a").join("&");
    const res = await registry.request(`/v2/blue/app/manifests/${digest}?${repeated}&tag=b`, { method: "PUT", headers: { "content-type": OCI_MANIFEST }, body: manifest });
    expect(res.status).toBe(201);
    expect(registry.events.filter((event) => event.action === "push").map((event) => event.target.tag)).toEqual(["a", "b"]);
  });

  it("answers a committed push 201 when the audit store fails, and logs the fault", async () => {
    const registry = recordingRegistry({
      audit: () => {
        throw new Error("database is locked");
      },
    });
    expect((await registry.pushManifestAt("/v2/blue/app/manifests/v1")).status).toBe(201);
    expect(registry.lines.some((line) => line.message === "event not recorded" && line.fields.error === "database is locked")).toBe(true);
  });
});
