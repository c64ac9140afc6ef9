/**
 * `/ui/r/<name>`: a repository's tags a page at a time, sorted by name (the store's order,
 * read with `n`/`last`) or by push time (where the store records push times: their list of
 * tag names and times is read, the manifests of one page only), each with its digest,
 * kind, platforms and size, and the pull lines.
 */
import { isRetainable } from "../../ports/collectable.ts";
import type { ManifestRecord } from "../../ports/metadata-store.ts";
import type { Registry } from "../../core/registry.ts";
import { formatBytes, formatTime, shortDigest } from "../format.ts";
import { readManifestView, type ManifestView } from "../image.ts";
import { h, type Html, manifestPath, page, repositoryPath, withQuery } from "../layout.ts";
import type { Visit } from "../session.ts";
import { pullLines } from "./pull-lines.ts";

export const TAGS_PAGE_SIZE = 50;
/** Manifests read at once for one page of tags. */
const READS_AT_ONCE = 8;

interface TagRow {
  tag: string;
  pushedAt?: number;
  view: ManifestView | null;
}

export type TagSort = "name" | "pushed";

export async function repositoryView(
  registry: Registry,
  visit: Visit,
  repository: string,
  address: { host: string; plainHttp: boolean },
  query: { after?: string; sort?: string },
  options: { deletesRepository: boolean } = { deletesRepository: false },
): Promise<Html> {
  const canSortByTime = isRetainable(registry.metadata);
  const sort: TagSort = query.sort === "pushed" && canSortByTime ? "pushed" : "name";
  const { tags, next } = await tagPage(registry, repository, sort, query.after);
  const rows: TagRow[] = [];
  for (let i = 0; i < tags.length; i += READS_AT_ONCE) {
    rows.push(...(await Promise.all(tags.slice(i, i + READS_AT_ONCE).map((t) => tagRow(registry, repository, t)))));
  }
  const pullTag = rows.find((r) => r.tag === "latest")?.tag ?? rows[0]?.tag;
  const here = repositoryPath(repository);
  const deletes = visit.viewer.mayDelete(repository);
  const body = h`<p><a href="/">Repositories</a> /</p>
<h1>${repository}</h1>
${pullTag ? h`<h2>Pull</h2>${pullLines(address, repository, pullTag)}` : ""}
<h2 id="tags">Tags</h2>
${
  canSortByTime
    ? h`<p>Sort by: ${sort === "name" ? h`<strong>name</strong>` : h`<a href="${withQuery(here, { sort: "name" })}">name</a>`} · ${
        sort === "pushed" ? h`<strong>push time</strong>` : h`<a href="${withQuery(here, { sort: "pushed" })}">push time</a>`
      }</p>`
    : ""
}
${
  rows.length === 0
    ? h`<p class="notice">No tags. Manifests pushed by digest only are not listed here.</p>`
    : h`<div class="table"><table>
<thead><tr><th scope="col">Tag</th><th scope="col">Digest</th><th scope="col">Kind</th><th scope="col">Platforms</th><th scope="col">Size</th>${sort === "pushed" ? h`<th scope="col">Pushed</th>` : ""}${deletes ? h`<th scope="col"><span class="skip">Actions</span></th>` : ""}</tr></thead>
<tbody>${rows.map((row) => tagRowHtml(repository, row, sort, deletes, address))}</tbody></table></div>`
}
<nav class="pager" aria-label="Pages">
${query.after ? h`<a href="${withQuery(here, { sort: sort === "name" ? undefined : sort })}">First page</a>` : ""}
${next ? h`<a href="${withQuery(here, { sort: sort === "name" ? undefined : sort, after: next })}" rel="next">Next page</a>` : ""}
</nav>
${options.deletesRepository ? h`<h2>Delete</h2><p><a class="button danger" href="${here}/-/delete-repository">Delete repository…</a></p>` : ""}`;
  return page(repository, visit, body);
}

async function tagPage(registry: Registry, repository: string, sort: TagSort, after: string | undefined): Promise<{ tags: Array<{ tag: string; pushedAt?: number }>; next?: string }> {
  if (sort === "pushed" && isRetainable(registry.metadata)) {
    // Newest first; `after` is the last tag of the previous page in this order.
    const all = (await registry.metadata.listTagTimes(repository)).sort((a, b) => b.taggedAt - a.taggedAt || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
    const start = after === undefined ? 0 : all.findIndex((t) => t.tag === after) + 1;
    const slice = all.slice(start, start + TAGS_PAGE_SIZE);
    const more = start + TAGS_PAGE_SIZE < all.length;
    return { tags: slice.map((t) => ({ tag: t.tag, pushedAt: t.taggedAt })), ...(more ? { next: slice[slice.length - 1]!.tag } : {}) };
  }
  const names = await registry.metadata.listTags(repository, { limit: TAGS_PAGE_SIZE + 1, ...(after ? { after } : {}) });
  const tags = names.slice(0, TAGS_PAGE_SIZE).map((tag) => ({ tag }));
  return { tags, ...(names.length > TAGS_PAGE_SIZE ? { next: names[TAGS_PAGE_SIZE - 1]! } : {}) };
}

async function tagRow(registry: Registry, repository: string, t: { tag: string; pushedAt?: number }): Promise<TagRow> {
  // A tag deleted since it was listed shows without details rather than failing the page.
  const record: ManifestRecord | null = await registry.metadata.getTaggedManifest(repository, t.tag);
  return { ...t, view: record ? await readManifestView(registry, record) : null };
}

export function kindOf(view: ManifestView): string {
  if (view.isIndex) return "index";
  if (view.artifactType) return "artifact";
  return "image";
}

function tagRowHtml(repository: string, row: TagRow, sort: TagSort, deletes: boolean, address: { host: string; plainHttp: boolean }): Html {
  const pull = `docker pull ${address.host}/${repository}:${row.tag}`;
  const view = row.view;
  const platforms = view ? (view.isIndex ? view.manifests.map((m) => m.platform ?? "").filter(Boolean) : []) : [];
  return h`<tr>
<td><span class="mono">${row.tag}</span> <button type="button" class="copy" data-copy="${pull}" aria-label="Copy: ${pull}">Copy pull</button></td>
<td class="nowrap">${view ? h`<a class="mono" href="${manifestPath(repository, view.record.digest)}">${shortDigest(view.record.digest)}</a>` : h`<span class="muted">deleted</span>`}</td>
<td class="nowrap">${view ? kindOf(view) : ""}</td>
<td>${platforms.join(", ")}</td>
<td class="nowrap">${view ? formatBytes(view.totalSize) : ""}</td>
${sort === "pushed" ? h`<td>${formatTime(row.pushedAt)}</td>` : ""}
${deletes ? h`<td><a class="button danger" href="${withQuery(`${repositoryPath(repository)}/-/delete`, { tag: row.tag })}">Delete…<span class="skip"> tag ${row.tag}</span></a></td>` : ""}
</tr>`;
}
