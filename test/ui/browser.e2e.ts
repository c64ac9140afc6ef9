/**
 * The web interface in a real browser (Debian's chromium driven by playwright-core) against
 * npm start and against the Worker (workerd, local R2 and Durable Objects), with token auth:
 * images pushed with skopeo (an index of two platforms, an image with a signature referring
 * to it), then browse, search, sign in as a team member, copy a pull line, delete a tag and a
 * whole repository, and check what an anonymous visitor and a member of another team can and
 * cannot see. The catalog's sizes must be the usage report's figures.
 * Hostile values pushed over HTTP must show as text and never run.
 * Screenshots of the main pages: test-results/ui/<target>/*.png.
 *
 *   npm run test:ui
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatBytes } from "../../src/ui/format.ts";
import { buildLayout } from "./oci-layout.ts";
import { HOSTILE, pushHostileImage } from "./push.ts";
import { PASSWORDS, startNode, startWorker, teamsAuth, type Target } from "./targets.ts";

const SCREENSHOTS = join(process.cwd(), "test-results", "ui");

let browser: Browser;
let work: string;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    // playwright-core gives each launch a new --user-data-dir of its own.
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  work = mkdtempSync(join(tmpdir(), "registry-ui-images-"));
  buildLayout(work);
});

afterAll(async () => {
  await browser?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

const targets: Array<[string, (auth: Record<string, unknown>) => Promise<Target>]> = [
  ["node", startNode],
  ["worker", startWorker],
];

describe.each(targets)("the web interface on %s", (name, start) => {
  let target: Target;
  let host: string;
  let hostile: Awaited<ReturnType<typeof pushHostileImage>>;
  const shots = join(SCREENSHOTS, name);

  const skopeo = (ref: string, dest: string, user: keyof typeof PASSWORDS, ...flags: string[]) =>
    execFileSync("skopeo", ["copy", "-q", ...flags, "--dest-tls-verify=false", "--dest-creds", `${user}:${PASSWORDS[user]}`, `oci:${join(work, "layout")}:${ref}`, `docker://${host}/${dest}`], {
      stdio: ["ignore", "ignore", "pipe"],
    });

  async function visitor(): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
    const context = await browser.newContext({ baseURL: target.url, viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("dialog", (dialog) => {
      errors.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    return { context, page, errors };
  }

  async function signIn(page: Page, user: keyof typeof PASSWORDS): Promise<void> {
    await page.goto("/");
    await page.getByRole("link", { name: "Sign in" }).click();
    await page.getByLabel("User name").fill(user);
    await page.getByLabel("Password").fill(PASSWORDS[user]);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.locator("header").innerText()).toContain(`Signed in as ${user}`);
  }

  beforeAll(async () => {
    target = await start(await teamsAuth());
    host = new URL(target.url).host;
    mkdirSync(shots, { recursive: true });
    skopeo("multi", "blue/multi:v1", "alice", "--all");
    skopeo("app", "blue/app:v1", "alice");
    skopeo("old", "blue/app:old", "alice");
    const app = JSON.parse(execFileSync("skopeo", ["inspect", "--raw", "--tls-verify=false", "--creds", `alice:${PASSWORDS.alice}`, `docker://${host}/blue/app:v1`]).toString()) as unknown;
    expect(app).toBeTruthy();
    const appDigest = execFileSync("skopeo", ["inspect", "--format", "{{.Digest}}", "--tls-verify=false", "--creds", `alice:${PASSWORDS.alice}`, `docker://${host}/blue/app:v1`]).toString().trim();
    skopeo("sig", `blue/app:${appDigest.replace(":", "-")}.sig`, "alice");
    skopeo("app", "public/base:v1", "alice");
    skopeo("app", "green/secret:v1", "bob");
    skopeo("app", "blue/doomed:v1", "alice");
    const token = await fetch(`${target.url}/token?service=ui-tests&scope=repository:blue/hostile:pull,push`, { headers: { authorization: `Basic ${btoa(`alice:${PASSWORDS.alice}`)}` } }).then((r) => r.json() as Promise<{ token: string }>);
    hostile = await pushHostileImage((path, init) => fetch(`${target.url}${path}`, init), "blue/hostile", "v1", { authorization: `Bearer ${token.token}` });
  });

  afterAll(async () => {
    await target?.stop();
  });

  it("shows an anonymous visitor the public repositories only, and no team's repository even by its address", async () => {
    const { context, page, errors } = await visitor();
    await page.goto("/");
    const list = page.locator("main table");
    await expect.poll(() => list.innerText()).toContain("public/base");
    expect(await page.locator("main").innerText()).not.toMatch(/blue\/|green\//);
    await page.screenshot({ path: join(shots, "catalog-anonymous.png"), fullPage: true });
    const hidden = await page.goto("/ui/r/blue/app");
    expect(hidden?.status()).toBe(404);
    expect(await page.locator("main").innerText()).toContain('No repository "blue/app" that you may pull.');
    expect(await page.getByRole("link", { name: "Sign in to see more" }).count()).toBe(1);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("lets a team member sign in, search, and see an index's platforms", async () => {
    const { context, page, errors } = await visitor();
    await signIn(page, "alice");
    const main = page.locator("main");
    await expect.poll(() => main.innerText()).toContain("blue/multi");
    expect(await main.innerText()).toContain("public/base");
    expect(await main.innerText()).not.toContain("green/secret");
    await page.screenshot({ path: join(shots, "catalog.png"), fullPage: true });

    // Each row: name, tags, last push (UTC), size; the size is what the usage report counts.
    const usage = (await fetch(`${target.url}/admin/usage`, { headers: { authorization: `Bearer ${await token(target, "olga", "registry:admin:*")}` } }).then((r) => r.json())) as {
      repositories: Array<{ name: string; bytes: number }>;
    };
    for (const repository of ["blue/multi", "blue/app"]) {
      const cells = (await main.locator("tbody tr", { has: page.getByRole("link", { name: repository, exact: true }) }).innerText()).split("\t");
      expect(cells[2]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(Date.now() - Date.parse(cells[2]!)).toBeLessThan(30 * 60_000);
      const bytes = usage.repositories.find((r) => r.name === repository)!.bytes;
      expect(bytes).toBeGreaterThan(0);
      expect(cells[3]).toBe(formatBytes(bytes));
    }

    await page.getByLabel("Search repositories").fill("mult");
    await page.getByRole("button", { name: "Search" }).click();
    await expect.poll(() => main.locator("tbody").innerText()).toMatch(/^blue\/multi\t1\t\S+Z\t\d/);

    await page.getByRole("link", { name: "blue/multi" }).click();
    const row = main.locator("tbody tr", { hasText: "v1" });
    expect(await row.innerText()).toContain("linux/amd64, linux/arm64");
    expect(await row.innerText()).toContain("index");
    await page.screenshot({ path: join(shots, "repository-index.png"), fullPage: true });
    await row.getByRole("link").first().click();
    const platforms = await main.locator("table").first().innerText();
    expect(platforms).toContain("linux/amd64");
    expect(platforms).toContain("linux/arm64");
    await page.screenshot({ path: join(shots, "manifest-index.png"), fullPage: true });
    expect(errors).toEqual([]);
    await context.close();
  });

  it("shows an image's config, layers and signature, and copies its pull command", async () => {
    const { context, page, errors } = await visitor();
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: target.url });
    await signIn(page, "alice");
    await page.goto("/ui/r/blue/app");
    const main = page.locator("main");
    // The pull section names one tag ("latest", else the first listed); each tag has its own copy button.
    expect(await main.locator("pre").first().innerText()).toMatch(new RegExp(`^docker pull ${host}/blue/app:`));
    expect(await main.locator("pre").nth(1).innerText()).toMatch(new RegExp(`^podman pull --tls-verify=false ${host}/blue/app:`));
    const copy = page.getByRole("button", { name: `Copy: docker pull ${host}/blue/app:v1`, exact: true });
    await copy.click();
    await expect.poll(() => copy.innerText()).toBe("Copied");
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`docker pull ${host}/blue/app:v1`);
    await page.screenshot({ path: join(shots, "repository.png"), fullPage: true });

    await main.locator('tbody tr:has(td:first-child .mono:text-is("v1"))').getByRole("link").first().click();
    const text = await main.innerText();
    expect(text).toContain("linux/amd64");
    expect(text).toContain('["/bin/hello"]');
    expect(text).toContain("GREETING=hello");
    expect(text).toContain("org.opencontainers.image.title");
    expect(text).toContain("application/vnd.oci.image.layer.v1.tar+gzip");
    expect(text).toContain("application/vnd.dev.cosign.artifact.sig.v1+json");
    expect(text).toContain("MEUCIQ-test-signature");
    await page.screenshot({ path: join(shots, "manifest-image.png"), fullPage: true });
    expect(errors).toEqual([]);
    await context.close();
  });

  it("reads on a phone in dark mode and starts with a skip link for keyboard users", async () => {
    const context = await browser.newContext({ baseURL: target.url, viewport: { width: 390, height: 844 }, colorScheme: "dark" });
    const page = await context.newPage();
    await signIn(page, "alice");
    await page.goto("/ui/r/blue/app");
    // Wide tables scroll inside their box; the page itself never scrolls sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe("rgb(13, 17, 23)");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    await page.screenshot({ path: join(shots, "repository-phone-dark.png"), fullPage: true });
    await context.close();
  });

  it("shows hostile annotations, labels and media types as text; none of it runs", async () => {
    const { context, page, errors } = await visitor();
    await signIn(page, "alice");
    for (const path of ["/ui/r/blue/hostile", `/ui/r/blue/hostile/-/manifest/${hostile.image.digest}`, `/ui/r/blue/hostile/-/manifest/${hostile.referrer.digest}`]) {
      await page.goto(path);
      expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
      expect(await page.locator("main script, main img").count()).toBe(0);
    }
    expect(await page.locator("main").innerText()).toContain(HOSTILE);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("keeps another team's repositories from its members, and lets a team member delete a tag after confirming", async () => {
    const bob = await visitor();
    await signIn(bob.page, "bob");
    expect(await bob.page.locator("main").innerText()).toContain("green/secret");
    expect(await bob.page.locator("main").innerText()).not.toContain("blue/");
    expect((await bob.page.goto("/ui/r/blue/app"))?.status()).toBe(404);
    expect((await bob.page.goto("/ui/r/blue/app/-/delete?tag=old"))?.status()).toBe(404);
    await bob.context.close();

    const alice = await visitor();
    await signIn(alice.page, "alice");
    await alice.page.goto("/ui/r/blue/app");
    await alice.page.getByRole("link", { name: "Delete… tag old" }).click();
    expect(await alice.page.locator("h1").innerText()).toBe("Delete from blue/app?");
    await alice.page.screenshot({ path: join(shots, "delete-confirm.png") });
    await alice.page.getByRole("button", { name: "Delete" }).click();
    expect(await alice.page.locator("main").innerText()).toContain("The tag old was deleted from blue/app.");
    await alice.page.getByRole("link", { name: "Back to blue/app" }).click();
    const tags = await alice.page.locator("main tbody").innerText();
    expect(tags).toContain("v1");
    expect(tags).not.toMatch(/^old\t/m);
    const tagList = await fetch(`${target.url}/v2/blue/app/tags/list`, { headers: { authorization: `Bearer ${await token(target, "alice", "repository:blue/app:pull")}` } }).then((r) => r.json() as Promise<{ tags: string[] }>);
    expect(tagList.tags).not.toContain("old");
    expect(alice.errors).toEqual([]);
    await alice.context.close();
  });

  it("lets a team member delete a whole repository after confirming; it is gone from the catalog and the API", async () => {
    const { context, page, errors } = await visitor();
    await signIn(page, "alice");
    const main = page.locator("main");
    expect(await main.innerText()).toContain("blue/doomed");
    await page.goto("/ui/r/blue/doomed");
    await page.getByRole("link", { name: "Delete repository…" }).click();
    expect(await page.locator("h1").innerText()).toBe("Delete the repository blue/doomed?");
    await page.screenshot({ path: join(shots, "delete-repository-confirm.png") });
    await page.getByRole("button", { name: "Delete repository" }).click();
    expect(await main.innerText()).toContain("The repository blue/doomed was deleted, with 1 manifest and 1 tag.");
    await page.getByRole("link", { name: "All repositories" }).click();
    await expect.poll(() => main.innerText()).toContain("blue/app");
    expect(await main.innerText()).not.toContain("blue/doomed");
    expect((await page.goto("/ui/r/blue/doomed"))?.status()).toBe(404);
    const tags = await fetch(`${target.url}/v2/blue/doomed/tags/list`, { headers: { authorization: `Bearer ${await token(target, "alice", "repository:blue/doomed:pull")}` } });
    expect(tags.status).toBe(404);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("shows an administrator the usage and runs a dry-run garbage collection", async () => {
    const { context, page, errors } = await visitor();
    await signIn(page, "olga");
    await page.getByRole("link", { name: "Usage" }).click();
    const main = page.locator("main");
    expect(await main.innerText()).toContain("blue/app");
    expect(await main.innerText()).toContain("green/secret");
    await page.getByRole("button", { name: "Run garbage collection" }).click();
    await expect.poll(() => main.locator("[role=status]").innerText()).toContain("Dry run, nothing changed.");
    await page.screenshot({ path: join(shots, "usage.png"), fullPage: true });
    expect(errors).toEqual([]);
    await context.close();
  });
});

async function token(target: Target, user: keyof typeof PASSWORDS, scope: string): Promise<string> {
  const res = await fetch(`${target.url}/token?service=ui-tests&scope=${scope}`, { headers: { authorization: `Basic ${btoa(`${user}:${PASSWORDS[user]}`)}` } });
  return ((await res.json()) as { token: string }).token;
}
