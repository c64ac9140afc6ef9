/**
 * The web interface: server-rendered pages at `/` and under `/ui/`, beside the /v2/ API,
 * over the same core and the same auth policy. Pages need no script; every state-changing
 * form is a POST checked for its origin and CSRF token (session.ts). A repository the
 * visitor may not pull gets the same "not found" page as one that does not exist.
 */
import type { Context, Hono } from "hono";
import type { Registry } from "../core/registry.ts";
import { RegistryError } from "../core/errors.ts";
import { isRepositoryName } from "../core/names.ts";
import { looksLikeDigest, parseDigest } from "../core/digest.ts";
import { isTag } from "../core/names.ts";
import { noteChange } from "../http/events.ts";
import type { Maintenance } from "../http/routes/admin.ts";
import { SCRIPT, STYLE_SHEET } from "./assets.ts";
import type { Html } from "./layout.ts";
import { repositoryPath } from "./layout.ts";
import { catalogView } from "./pages/catalog.ts";
import { confirmCollectionView, confirmDeleteRepositoryView, confirmDeleteView, type DeleteTarget, messageView, signInView } from "./pages/forms.ts";
import { manifestView } from "./pages/manifest.ts";
import { registryHost } from "./pages/pull-lines.ts";
import { repositoryView } from "./pages/repository.ts";
import { type UsageFigures, usageView } from "./pages/usage.ts";
import { checkedForm, endSession, startSession, type UiSettings, type Visit, visitOf } from "./session.ts";
import { describeCollection } from "./collection-summary.ts";

export interface UiOptions extends UiSettings {
  /** Usage and garbage collection for administrators; without it the usage page is absent. */
  maintenance?: Maintenance;
}

/** No inline code at all: a value that escaped its escaping still could not run. */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export function uiRoutes(app: Hono, registry: Registry, options: UiOptions): void {
  app.use("/", pageHeaders);
  app.use("/ui/*", pageHeaders);

  app.get("/ui/assets/style.css", (c) => c.body(STYLE_SHEET, 200, { "Content-Type": "text/css; charset=utf-8", "Cache-Control": "public, max-age=3600" }));
  app.get("/ui/assets/copy.js", (c) => c.body(SCRIPT, 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "public, max-age=3600" }));

  const address = (c: Context) => registryHost(c.req.url, options.publicUrl);

  app.get("/", (c) => render(c, options, (visit) => catalogView(registry, visit, { q: c.req.query("q"), after: c.req.query("after") })));

  app.get("/ui/sign-in", (c) =>
    render(c, options, (visit) => {
      if (!options.auth || visit.viewer.name !== null) return c.redirect("/", 303);
      return signInView(visit, undefined, safeNext(c.req.query("next")));
    }),
  );
  app.post("/ui/sign-in", (c) =>
    render(c, options, async (visit) => {
      const form = await checkedForm(c, options, visit);
      const next = safeNext(form.get("next") ?? undefined);
      const outcome = await startSession(c, options, form.get("username") ?? "", form.get("password") ?? "");
      if (outcome.ok) return c.redirect(next ?? "/", 303);
      if (outcome.retryAfterSeconds !== undefined) {
        c.status(429);
        c.header("Retry-After", String(outcome.retryAfterSeconds));
        return signInView(visit, `Too many failed sign-ins for this name or from this address; try again in ${outcome.retryAfterSeconds} s.`, next);
      }
      c.status(401);
      return signInView(visit, "The user name or password is wrong.", next);
    }),
  );
  app.post("/ui/sign-out", (c) =>
    render(c, options, async (visit) => {
      await checkedForm(c, options, visit);
      endSession(c, options);
      return c.redirect("/", 303);
    }),
  );

  app.get("/ui/usage", (c) =>
    render(c, options, async (visit) => {
      if (!visit.viewer.mayAdminister || !options.maintenance) throw notFound("This page is for the registry's administrators.");
      return usageView(visit, (await options.maintenance.usage()) as UsageFigures);
    }),
  );
  app.post("/ui/gc", (c) =>
    render(c, options, async (visit) => {
      if (!visit.viewer.mayAdminister || !options.maintenance) throw notFound("This page is for the registry's administrators.");
      const form = await checkedForm(c, options, visit);
      const dryRun = form.get("dry-run") === "true";
      // A real run is confirmed on a page that shows what a dry run finds now.
      if (!dryRun && form.get("confirmed") !== "true") return confirmCollectionView(visit, describeCollection(await options.maintenance.collect({ dryRun: true }), true));
      const report = await options.maintenance.collect({ dryRun });
      return usageView(visit, (await options.maintenance.usage()) as UsageFigures, describeCollection(report, dryRun));
    }),
  );

  app.get("/ui/r/:name{.+}/-/manifest/:digest", (c) =>
    render(c, options, async (visit) => {
      const repository = await readableRepository(registry, visit, c.req.param("name"));
      const reference = c.req.param("digest");
      if (!looksLikeDigest(reference)) throw notFound(`"${reference.slice(0, 100)}" is not a digest.`);
      const record = await registry.metadata.getManifest(repository, parseDigest(reference).digest);
      if (!record) throw notFound(`${repository} holds no manifest ${reference.slice(0, 100)}.`);
      return manifestView(registry, visit, repository, record, address(c));
    }),
  );
  app.get("/ui/r/:name{.+}/-/delete", (c) =>
    render(c, options, async (visit) => {
      const repository = await deletableRepository(registry, visit, c.req.param("name"));
      return confirmDeleteView(visit, repository, deleteTarget(c.req.query("tag"), c.req.query("digest")));
    }),
  );
  app.post("/ui/r/:name{.+}/-/delete", (c) =>
    render(c, options, async (visit) => {
      const repository = await deletableRepository(registry, visit, c.req.param("name"));
      const form = await checkedForm(c, options, visit);
      const target = deleteTarget(form.get("tag") ?? undefined, form.get("digest") ?? undefined);
      await registry.manifests.delete(repository, "tag" in target ? target.tag : target.digest);
      // The same event and audit line as DELETE /v2/<name>/manifests/<reference>.
      noteChange(c, { action: "delete", repository, identity: visit.viewer.actor, ...("tag" in target ? { kind: "tag", tag: target.tag } : { kind: "manifest", digest: target.digest }) });
      return messageView(visit, "Deleted", "tag" in target ? `The tag ${target.tag} was deleted from ${repository}.` : `The manifest ${target.digest} and its tags were deleted from ${repository}.`, {
        href: repositoryPath(repository),
        text: `Back to ${repository}`,
      });
    }),
  );
  app.get("/ui/r/:name{.+}/-/delete-repository", (c) =>
    render(c, options, async (visit) => {
      const { repository } = await removableRepository(registry, visit, options, c.req.param("name"));
      return confirmDeleteRepositoryView(visit, repository);
    }),
  );
  app.post("/ui/r/:name{.+}/-/delete-repository", (c) =>
    render(c, options, async (visit) => {
      const { repository, remove } = await removableRepository(registry, visit, options, c.req.param("name"));
      await checkedForm(c, options, visit);
      const deleted = (await remove(repository)) as { manifests?: number; tags?: number } | null;
      if (!deleted) throw notFound(`No repository "${repository}" that you may pull.`);
      // The same event and audit line as DELETE /admin/repositories/<name>.
      noteChange(c, { action: "delete", kind: "repository", repository, identity: visit.viewer.actor });
      const count = (n: number | undefined, one: string, many: string) => `${n ?? 0} ${n === 1 ? one : many}`;
      return messageView(
        visit,
        "Deleted",
        `The repository ${repository} was deleted, with ${count(deleted.manifests, "manifest", "manifests")} and ${count(deleted.tags, "tag", "tags")}. Garbage collection frees the bytes nothing else holds.`,
        { href: "/", text: "All repositories" },
      );
    }),
  );
  app.get("/ui/r/:name{.+}", (c) =>
    render(c, options, async (visit) => {
      const repository = await readableRepository(registry, visit, c.req.param("name"));
      const deletesRepository = options.maintenance?.deleteRepository !== undefined && visit.viewer.mayDeleteRepository(repository);
      return repositoryView(registry, visit, repository, address(c), { after: c.req.query("after"), sort: c.req.query("sort") }, { deletesRepository });
    }),
  );
}

async function pageHeaders(c: Context, next: () => Promise<void>): Promise<void> {
  await next();
  c.res.headers.set("Content-Security-Policy", CONTENT_SECURITY_POLICY);
  c.res.headers.set("Referrer-Policy", "same-origin");
  c.res.headers.set("X-Frame-Options", "DENY");
  // Pages show what one visitor may see: no shared cache may keep them.
  if (!c.res.headers.has("Cache-Control")) c.res.headers.set("Cache-Control", "no-store");
}

/**
 * Runs a page: its HTML (or a redirect it chose), or, for a refusal the core or the
 * checks raised, a page saying what happened and what to do, with the error's status.
 */
async function render(c: Context, settings: UiSettings, build: (visit: Visit) => Promise<Html | Response> | Html | Response): Promise<Response> {
  const visit = await visitOf(c, settings);
  try {
    const result = await build(visit);
    return result instanceof Response ? result : c.html(result);
  } catch (error) {
    if (!(error instanceof RegistryError)) throw error;
    const title = error.status === 404 ? "Not found" : error.status === 403 ? "Not allowed" : "Could not do that";
    const signIn = visit.viewer.name === null && visit.viewer.canSignIn && error.status === 404;
    return c.html(messageView(visit, title, error.message, signIn ? { href: `/ui/sign-in?next=${encodeURIComponent(new URL(c.req.url).pathname)}`, text: "Sign in to see more" } : { href: "/", text: "All repositories" }), error.status as 404);
  }
}

function notFound(message: string): RegistryError {
  return new RegistryError("NAME_UNKNOWN", message);
}

/** The repository, if the visitor may pull it and it exists; otherwise the same not-found for both. */
async function readableRepository(registry: Registry, visit: Visit, name: string): Promise<string> {
  const unknown = notFound(`No repository "${name.slice(0, 200)}" that you may pull.`);
  if (!isRepositoryName(name) || !visit.viewer.mayRead(name)) throw unknown;
  if (!(await registry.metadata.repositoryExists(name))) throw unknown;
  return name;
}

async function deletableRepository(registry: Registry, visit: Visit, name: string): Promise<string> {
  const repository = await readableRepository(registry, visit, name);
  if (!visit.viewer.mayDelete(repository)) throw new RegistryError("DENIED", `You may not delete from ${repository}; ask its team for the delete right.`);
  return repository;
}

/** The repository and the runtime's way to delete it whole, if the visitor may (the button is shown only then). */
async function removableRepository(
  registry: Registry,
  visit: Visit,
  options: UiOptions,
  name: string,
): Promise<{ repository: string; remove: (repository: string) => Promise<unknown | null> }> {
  const repository = await readableRepository(registry, visit, name);
  if (!visit.viewer.mayDeleteRepository(repository)) {
    throw new RegistryError("DENIED", `You may not delete ${repository}; ask an administrator, or its team for the delete right.`);
  }
  const remove = options.maintenance?.deleteRepository?.bind(options.maintenance);
  if (!remove) throw new RegistryError("UNSUPPORTED", "This deployment cannot delete a whole repository; delete its tags instead.", { status: 405 });
  return { repository, remove };
}

function deleteTarget(tag: string | undefined, digest: string | undefined): DeleteTarget {
  if (tag !== undefined && isTag(tag)) return { tag };
  if (digest !== undefined && looksLikeDigest(digest)) return { digest: parseDigest(digest).digest };
  throw new RegistryError("MANIFEST_INVALID", "Say which tag or digest to delete.");
}

/** Only a path on this site: `//host` or `https://…` would send a signed-in visitor elsewhere. */
function safeNext(next: string | undefined): string | undefined {
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : undefined;
}
