/**
 * `/`: the repositories the visitor may pull, searchable, a page at a time, with their tag
 * counts, last push times and sizes (MetadataStore.repositorySummary: one read per repository
 * of the page, never the whole registry).
 */
import type { Registry } from "../../core/registry.ts";
import { catalogPage, MAX_SCANNED } from "../catalog.ts";
import { formatBytes, formatTime } from "../format.ts";
import { h, type Html, page, repositoryPath, withQuery } from "../layout.ts";
import type { Visit } from "../session.ts";

export const CATALOG_PAGE_SIZE = 50;
/** Tag counts above this show as "100+": counting further would read the whole tag list. */
const COUNTED_TAGS = 100;

export async function catalogView(registry: Registry, visit: Visit, query: { q?: string; after?: string }): Promise<Html> {
  const search = (query.q ?? "").trim().slice(0, 200);
  const result = await catalogPage(registry.metadata, visit.viewer, { search, limit: CATALOG_PAGE_SIZE, ...(query.after ? { after: query.after } : {}) });
  const [counts, summaries] = await Promise.all([
    Promise.all(result.names.map((name) => registry.metadata.listTags(name, { limit: COUNTED_TAGS + 1 }).then((tags) => tags.length))),
    Promise.all(result.names.map((name) => registry.metadata.repositorySummary(name))),
  ]);
  const rows = result.names.map((name, i) => {
    const summary = summaries[i]!;
    const pushed = formatTime(summary.lastPushedAt ?? undefined);
    return h`<tr><td><a href="${repositoryPath(name)}">${name}</a></td><td>${counts[i]! > COUNTED_TAGS ? `${COUNTED_TAGS}+` : counts[i]!}</td><td class="nowrap">${pushed ? h`<time datetime="${pushed}">${pushed}</time>` : "unknown"}</td><td class="nowrap" data-bytes="${summary.bytes}">${formatBytes(summary.bytes)}</td></tr>`;
  });
  const counted = summaries.some((summary) => summary.bytesFrom === "counted");
  const body = h`<h1>Repositories</h1>
<form class="search" method="get" action="/" role="search">
<div><label for="q">Search repositories</label><input type="search" id="q" name="q" value="${search}" placeholder="name contains…"></div>
<button type="submit">Search</button>
</form>
${
  rows.length > 0
    ? h`<div class="table"><table><caption class="skip">Repositories you may pull</caption><thead><tr><th scope="col">Repository</th><th scope="col">Tags</th><th scope="col">Last push</th><th scope="col">Size</th></tr></thead><tbody>${rows}</tbody></table></div>
<p class="muted">Size: the bytes of the distinct layers, configs and manifests a repository holds; a layer shared with other repositories counts in each.${counted ? " Sizes here are counted as pushes and deletes go, and recounted by each garbage collection." : ""} Last push: the newest manifest put (UTC).</p>`
    : h`<p class="notice">${search ? "No repository you may pull matches this search." : visit.viewer.name === null && visit.viewer.canSignIn ? "No repository is public here. Sign in to see your team's." : "No repositories yet: push an image to see it here."}</p>`
}
${result.stoppedEarly ? h`<p class="muted">Searched ${MAX_SCANNED} repositories; there may be more matches further on.</p>` : ""}
<nav class="pager" aria-label="Pages">
${query.after ? h`<a href="${withQuery("/", { q: search })}">First page</a>` : ""}
${result.next ? h`<a href="${withQuery("/", { q: search, after: result.next })}" rel="next">${result.stoppedEarly ? "Search further" : "Next page"}</a>` : ""}
</nav>`;
  return page("Repositories", visit, body);
}
