/**
 * The web interface's deletes as events and audit lines (issue 18), in process with the
 * teams of test/auth/support.ts: a tag or a manifest deleted from its page is recorded as
 * DELETE /v2/<name>/manifests/<reference> records it, with the signed-in identity as the
 * actor; a refused form is audited as refused and sends nothing. The Node process test
 * (test/process/events.test.ts) follows the same deletes to a receiver.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { AuditEntry } from "../../src/observability/events/outbox.ts";
import type { RegistryEvent } from "../../src/observability/events/envelope.ts";
import { createLogger } from "../../src/observability/log.ts";
import { authedRegistry, bearer, PASSWORDS, type AuthedRegistry } from "../auth/support.ts";
import { OCI_CONFIG, OCI_MANIFEST, pushBlob, pushManifest } from "./push.ts";
import { Visitor } from "./visitor.ts";

const events: RegistryEvent[] = [];
const audits: AuditEntry[] = [];
const lines: string[] = [];
let registry: AuthedRegistry;

async function pushAs(user: keyof typeof PASSWORDS, repository: string, tag: string): Promise<string> {
  const headers = bearer(await registry.token([user, PASSWORDS[user]], `repository:${repository}:pull,push`));
  const config = await pushBlob(registry.request, repository, new TextEncoder().encode(JSON.stringify({ architecture: "amd64", os: "linux", tag })), OCI_CONFIG, headers);
  return (await pushManifest(registry.request, repository, tag, { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [] }, headers)).digest;
}

async function signedIn(user: keyof typeof PASSWORDS): Promise<Visitor> {
  const visitor = new Visitor(registry.request);
  expect((await visitor.signIn(user, PASSWORDS[user])).status).toBe(303);
  return visitor;
}

beforeAll(async () => {
  registry = await authedRegistry(undefined, {
    observation: { logger: createLogger({ level: "info", format: "json", write: (line) => lines.push(line) }) },
    events: { sink: { record: (found) => void events.push(...found), audit: (entry) => void audits.push(entry) }, source: { instanceID: "test" } },
  });
});

describe("deletes from the web interface as events and audit entries", () => {
  it("records a tag deleted from its page as the API records one, with alice as the actor", async () => {
    await pushAs("alice", "blue/app", "v1");
    await pushAs("alice", "blue/app", "api");
    const alice = await signedIn("alice");
    const csrf = await alice.csrf("/ui/r/blue/app/-/delete?tag=v1");
    events.length = 0;
    expect((await alice.post("/ui/r/blue/app/-/delete", { csrf, tag: "v1" })).status).toBe(200);
    const token = await registry.token(["alice", PASSWORDS.alice], "repository:blue/app:delete");
    expect((await registry.request("/v2/blue/app/manifests/api", { method: "DELETE", headers: bearer(token) })).status).toBe(202);

    expect(events).toHaveLength(2);
    const [page, api] = events;
    expect(page).toMatchObject({ action: "delete", target: { repository: "blue/app", tag: "v1" }, actor: { name: "user:alice" }, request: { method: "POST" } });
    expect(api).toMatchObject({ action: "delete", target: { repository: "blue/app", tag: "api" }, actor: { name: "user:alice" }, request: { method: "DELETE" } });
    expect(Object.keys(page!.target).sort()).toEqual(Object.keys(api!.target).sort());
    const [pageAudit, apiAudit] = audits.slice(-2);
    expect(pageAudit).toMatchObject({ action: "delete:tag", outcome: "ok", identity: "user:alice", repository: "blue/app", tag: "v1" });
    expect(apiAudit).toMatchObject({ action: "delete:tag", outcome: "ok", identity: "user:alice", repository: "blue/app", tag: "api" });
    expect(lines.some((line) => line.includes('"msg":"audit"') && line.includes('"action":"delete:tag"') && line.includes('"tag":"v1"'))).toBe(true);
  });

  it("records a manifest deleted from its page as a delete of its digest, with its URL", async () => {
    const digest = await pushAs("alice", "blue/web", "v1");
    const alice = await signedIn("alice");
    const csrf = await alice.csrf(`/ui/r/blue/web/-/delete?digest=${digest}`);
    events.length = 0;
    expect((await alice.post("/ui/r/blue/web/-/delete", { csrf, digest })).status).toBe(200);
    expect(events).toEqual([
      expect.objectContaining({ action: "delete", target: { repository: "blue/web", digest, url: `http://localhost/v2/blue/web/manifests/${digest}` }, actor: { name: "user:alice" } }),
    ]);
    expect(audits.at(-1)).toMatchObject({ action: "delete", identity: "user:alice", repository: "blue/web", digest });
  });

  it("audits a refused delete form as refused and sends no event", async () => {
    await pushAs("alice", "blue/kept", "v1");
    const carol = await signedIn("carol");
    const csrf = await carol.csrf("/");
    events.length = 0;
    expect((await carol.post("/ui/r/blue/kept/-/delete", { csrf, tag: "v1" })).status).toBe(403);
    expect(events).toEqual([]);
    expect(audits.at(-1)).toMatchObject({ outcome: "refused", status: 403 });
  });
});
