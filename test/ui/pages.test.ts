/**
 * The web interface in process (memory stores, token auth with the teams of
 * test/auth/support.ts): what each visitor may see, sign-in sessions, CSRF checks on
 * every state-changing form, and escaping of every value a client controls.
 * The same in a real browser against npm start and the Worker: test/ui/browser.e2e.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { authedRegistry, bearer, PASSWORDS, teamsConfig, type AuthedRegistry } from "../auth/support.ts";
import { digestOf, HOSTILE, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, pushBlob, pushHostileImage, pushManifest, type Send } from "./push.ts";
import { Visitor } from "./visitor.ts";

let registry: AuthedRegistry;
let send: Send;
let hostile: Awaited<ReturnType<typeof pushHostileImage>>;

async function pushAs(user: keyof typeof PASSWORDS, repository: string, tag: string): Promise<void> {
  const token = await registry.token([user, PASSWORDS[user]], `repository:${repository}:pull,push`);
  const headers = bearer(token);
  const config = await pushBlob(send, repository, new TextEncoder().encode(JSON.stringify({ architecture: "arm64", os: "linux", rootfs: { type: "layers", diff_ids: [] } })), OCI_CONFIG, headers);
  const layer = await pushBlob(send, repository, new TextEncoder().encode(`${repository}:${tag}`), OCI_LAYER, headers);
  const image = await pushManifest(send, repository, `${tag}-arm64`, { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] }, headers);
  await pushManifest(send, repository, tag, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...image, platform: { os: "linux", architecture: "arm64", variant: "v8" } }] }, headers);
}

beforeAll(async () => {
  registry = await authedRegistry(await teamsConfig());
  send = registry.request;
  await pushAs("alice", "blue/app", "v1");
  await pushAs("bob", "green/secret-project", "v1");
  await pushAs("alice", "public/base", "v1");
  const token = await registry.token(["alice", PASSWORDS.alice], "repository:blue/hostile:pull,push");
  hostile = await pushHostileImage(send, "blue/hostile", "v1", bearer(token));
});

describe("what each visitor sees (the auth policy decides, as for /v2/)", () => {
  it("shows an anonymous visitor only the public repositories", async () => {
    const { status, html } = await new Visitor(send).get("/");
    expect(status).toBe(200);
    expect(html).toContain("public/base");
    expect(html).not.toContain("blue/app");
    expect(html).not.toContain("secret-project");
  });

  it("shows a signed-in team member their team's repositories and the public ones, never another team's", async () => {
    const alice = new Visitor(send);
    expect((await alice.signIn("alice", PASSWORDS.alice)).status).toBe(303);
    const { html } = await alice.get("/");
    expect(html).toContain("Signed in as <strong>alice</strong>");
    expect(html).toContain("blue/app");
    expect(html).toContain("public/base");
    expect(html).not.toContain("secret-project");
    expect((await alice.get("/?q=secret")).html).not.toContain("secret-project");
  });

  it("answers a repository the visitor may not pull exactly as one that does not exist", async () => {
    const alice = new Visitor(send);
    await alice.signIn("alice", PASSWORDS.alice);
    const hidden = await alice.get("/ui/r/green/secret-project");
    const missing = await alice.get("/ui/r/green/no-such-thing");
    expect(hidden.status).toBe(404);
    expect(missing.status).toBe(404);
    const body = (page: string) => page.replace(/green\/[a-z-]+/g, "NAME").replace(/value="[^"]+"/g, "");
    expect(body(hidden.html)).toBe(body(missing.html));
    expect((await alice.get("/ui/r/green/secret-project?sort=pushed")).status).toBe(404);
  });

  it("shows a repository's tags with platforms and the pull lines for the request's host", async () => {
    const alice = new Visitor(send);
    await alice.signIn("alice", PASSWORDS.alice);
    const { status, html } = await alice.get("/ui/r/blue/app");
    expect(status).toBe(200);
    expect(html).toContain("docker pull localhost/blue/app:v1");
    expect(html).toContain("podman pull --tls-verify=false localhost/blue/app:v1");
    expect(html).toContain("linux/arm64/v8");
    expect(html).toMatch(/<td class="nowrap">index<\/td>/);
  });

  it("keeps the delete buttons from a visitor without the delete right", async () => {
    const anonymous = await new Visitor(send).get("/ui/r/public/base");
    expect(anonymous.status).toBe(200);
    expect(anonymous.html).not.toContain("Delete…");
    const alice = new Visitor(send);
    await alice.signIn("alice", PASSWORDS.alice);
    expect((await alice.get("/ui/r/blue/app")).html).toContain("Delete…");
  });
});

describe("paging", () => {
  it("lists a repository's tags 50 at a time, each page reading only its own manifests", async () => {
    const token = await registry.token(["alice", PASSWORDS.alice], "repository:blue/many:pull,push");
    const headers = bearer(token);
    const config = await pushBlob(send, "blue/many", new TextEncoder().encode("{}"), OCI_CONFIG, headers);
    const manifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [] };
    for (let i = 0; i < 60; i++) await pushManifest(send, "blue/many", `t${String(i).padStart(2, "0")}`, manifest, headers);
    const alice = new Visitor(send);
    await alice.signIn("alice", PASSWORDS.alice);
    const first = await alice.get("/ui/r/blue/many");
    expect(first.html.match(/<tr>\n<td>/g)?.length).toBe(50);
    expect(first.html).toContain(">t49<");
    expect(first.html).not.toContain(">t50<");
    const next = /href="([^"]+)" rel="next"/.exec(first.html)![1]!.replace(/&amp;/g, "&");
    expect(next).toBe("/ui/r/blue/many?after=t49");
    const second = await alice.get(next);
    expect(second.html.match(/<tr>\n<td>/g)?.length).toBe(10);
    expect(second.html).toContain(">t59<");
    expect(second.html).not.toContain('rel="next"');
  });
});

describe("sign-in sessions", () => {
  it("refuses wrong credentials with 401 and no session", async () => {
    const visitor = new Visitor(send);
    const res = await visitor.signIn("alice", "wrong");
    expect(res.status).toBe(401);
    expect(visitor.cookies.has("registry_session")).toBe(false);
  });

  it("answers 429 with Retry-After once a name has failed too often, like the token endpoint", async () => {
    const visitor = new Visitor(send);
    // teamsConfig keeps the default loginFailuresPerName (10); an unknown name is counted like a known one.
    for (let i = 0; i < 10; i++) expect((await visitor.signIn("mallory", `guess-${i}`)).status).toBe(401);
    const csrf = await visitor.csrf("/ui/sign-in");
    const refused = await visitor.post("/ui/sign-in", { csrf, username: "mallory", password: "guess-10" });
    expect(refused.status).toBe(429);
    expect(Number(refused.res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(refused.html).toContain("Too many failed sign-ins");
    const token = await send("/token?service=test-registry&scope=repository:blue/app:pull", { headers: { Authorization: `Basic ${btoa("mallory:guess-11")}` } });
    expect(token.status).toBe(429);
  });

  it("keeps the session in an HttpOnly, SameSite cookie (Secure only over TLS)", async () => {
    const visitor = new Visitor(send);
    const res = await visitor.signIn("alice", PASSWORDS.alice);
    const cookie = res.headers.getSetCookie().find((line) => line.startsWith("registry_session="))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).not.toMatch(/Secure/);
    const tls = new Visitor((path, init) => send(`https://registry.example${path}`, init));
    const secure = (await tls.signIn("alice", PASSWORDS.alice)).headers.getSetCookie().find((line) => line.startsWith("registry_session="))!;
    expect(secure).toMatch(/Secure/);
  });

  it("is not a token for the API: a session cookie's JWT is refused as a bearer token", async () => {
    const visitor = new Visitor(send);
    await visitor.signIn("alice", PASSWORDS.alice);
    const session = visitor.cookies.get("registry_session")!;
    const res = await send("/v2/blue/app/tags/list", { headers: bearer(session) });
    expect(res.status).toBe(401);
  });

  it("ends at sign-out", async () => {
    const visitor = new Visitor(send);
    await visitor.signIn("alice", PASSWORDS.alice);
    const csrf = await visitor.csrf("/");
    expect((await visitor.post("/ui/sign-out", { csrf })).status).toBe(303);
    expect((await visitor.get("/")).html).not.toContain("blue/app");
  });

  it("sends a visitor only to a path on this site after signing in", async () => {
    const visitor = new Visitor(send);
    const csrf = await visitor.csrf("/ui/sign-in");
    const res = await visitor.post("/ui/sign-in", { csrf, username: "alice", password: PASSWORDS.alice, next: "//evil.example/" });
    expect(res.res.headers.get("location")).toBe("/");
  });
});

describe("CSRF protection on every state-changing form", () => {
  it("deletes nothing for a form without the visitor's token, or sent from another site", async () => {
    await pushAs("alice", "blue/csrf", "keep");
    const alice = new Visitor(send);
    await alice.signIn("alice", PASSWORDS.alice);
    const csrf = await alice.csrf("/ui/r/blue/csrf");
    expect((await alice.post("/ui/r/blue/csrf/-/delete", { tag: "keep" })).status).toBe(403);
    expect((await alice.post("/ui/r/blue/csrf/-/delete", { tag: "keep", csrf: "x".repeat(csrf.length) })).status).toBe(403);
    expect((await alice.post("/ui/r/blue/csrf/-/delete", { tag: "keep", csrf }, { origin: "https://evil.example" })).status).toBe(403);
    expect((await alice.post("/ui/r/blue/csrf/-/delete", { tag: "keep", csrf }, { "sec-fetch-site": "cross-site" })).status).toBe(403);
    expect((await alice.get("/ui/r/blue/csrf")).html).toContain(">keep<");
    // Another visitor's token is not this session's.
    const other = await new Visitor(send).csrf("/ui/sign-in");
    expect((await alice.post("/ui/r/blue/csrf/-/delete", { tag: "keep", csrf: other })).status).toBe(403);
    expect((await alice.post("/ui/sign-out", { csrf: other })).status).toBe(403);
  });

  it("deletes a tag for a team member with the delete right, and refuses a member of another team", async () => {
    await pushAs("alice", "blue/deletes", "old");
    const bob = new Visitor(send);
    await bob.signIn("bob", PASSWORDS.bob);
    const bobCsrf = await bob.csrf("/");
    expect((await bob.post("/ui/r/blue/deletes/-/delete", { tag: "old", csrf: bobCsrf })).status).toBe(404);
    const alice = new Visitor(send);
    await alice.signIn("alice", PASSWORDS.alice);
    const confirm = await alice.get("/ui/r/blue/deletes/-/delete?tag=old");
    expect(confirm.html).toContain("Delete from blue/deletes?");
    const csrf = /name="csrf" value="([^"]+)"/.exec(confirm.html)![1]!;
    const done = await alice.post("/ui/r/blue/deletes/-/delete", { tag: "old", csrf });
    expect(done.status).toBe(200);
    expect(done.html).toContain("The tag old was deleted from blue/deletes.");
    expect((await send("/v2/blue/deletes/manifests/old", { headers: bearer(await registry.token(["alice", PASSWORDS.alice], "repository:blue/deletes:pull")) })).status).toBe(404);
  });

  it("refuses a reader without the delete right with 403", async () => {
    const carol = new Visitor(send);
    await carol.signIn("carol", PASSWORDS.carol);
    const csrf = await carol.csrf("/");
    const res = await carol.post("/ui/r/blue/app/-/delete", { tag: "v1", csrf });
    expect(res.status).toBe(403);
    expect((await carol.get("/ui/r/blue/app")).html).toContain(">v1<");
  });
});

describe("escaping of every value a client controls", () => {
  const raw = ["<script>window.__pwned", "<img src=x", 'onerror="window'];

  it("shows hostile annotations, labels, env, history, media types and artifact types as text", async () => {
    const alice = new Visitor(send);
    await alice.signIn("alice", PASSWORDS.alice);
    const pages = [
      await alice.get("/ui/r/blue/hostile"),
      await alice.get(`/ui/r/blue/hostile/-/manifest/${hostile.image.digest}`),
      await alice.get(`/ui/r/blue/hostile/-/manifest/${hostile.referrer.digest}`),
    ];
    for (const page of pages) {
      expect(page.status).toBe(200);
      for (const fragment of raw) expect(page.html).not.toContain(fragment);
    }
    const image = pages[1]!.html;
    const escaped = "&quot;&gt;&lt;script&gt;window.__pwned=1&lt;/script&gt;";
    // label key and value, env, entrypoint, history, layer media type, annotation, referrer group
    expect(image.split(escaped).length - 1).toBeGreaterThanOrEqual(8);
    expect(image).toContain("application/vnd.example.sig+&quot;&gt;&lt;script&gt;");
    expect(pages[2]!.html).toContain(`signer</dt><dd>${escaped}`);
  });

  it("sends every page with a Content-Security-Policy that allows no inline script", async () => {
    const { res } = await new Visitor(send).get("/");
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(res.headers.get("content-security-policy")).not.toContain("unsafe-inline");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
  });

  it("leaves the API untouched: /v2/ still answers JSON errors and / is no longer a 404", async () => {
    expect((await send("/v2/blue/app/tags/list")).status).toBe(401);
    expect((await send("/")).headers.get("content-type")).toMatch(/^text\/html/);
  });
});

describe("a manifest with many referrers", () => {
  it("shows 50 of each artifact type and says how many more the referrers API lists", async () => {
    const headers = bearer(await registry.token(["alice", PASSWORDS.alice], "repository:blue/signed:pull,push"));
    const config = await pushBlob(send, "blue/signed", new TextEncoder().encode(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } })), OCI_CONFIG, headers);
    const image = await pushManifest(send, "blue/signed", "v1", { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [] }, headers);
    const empty = await pushBlob(send, "blue/signed", new TextEncoder().encode("{}"), "application/vnd.oci.empty.v1+json", headers);
    const signatures = [];
    for (let i = 0; i < 53; i++) {
      const manifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: "application/vnd.example.sig", config: empty, layers: [empty], subject: image, annotations: { run: String(i) } };
      signatures.push(await pushManifest(send, "blue/signed", digestOf(new TextEncoder().encode(JSON.stringify(manifest))), manifest, headers));
    }
    const sbom = { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: "application/vnd.example.sbom", config: empty, layers: [empty], subject: image };
    await pushManifest(send, "blue/signed", digestOf(new TextEncoder().encode(JSON.stringify(sbom))), sbom, headers);
    const alice = new Visitor(send);
    await alice.signIn("alice", PASSWORDS.alice);
    const { status, html } = await alice.get(`/ui/r/blue/signed/-/manifest/${image.digest}`);
    expect(status).toBe(200);
    const rowsOf = (type: string) => (html.split(`<h3 class="mono">${type}</h3>`)[1]!.split("</table>")[0]!.match(/<tr><td>/g) ?? []).length;
    expect(rowsOf("application/vnd.example.sig")).toBe(50);
    expect(rowsOf("application/vnd.example.sbom")).toBe(1);
    expect(html).toContain(`And 3 more of this type: <code>GET /v2/blue/signed/referrers/${image.digest}?artifactType=application%2Fvnd.example.sig</code>`);
    expect(html.match(/more of this type/g)).toHaveLength(1);
  });
});
