/** `/ui/usage` (administrators): bytes per namespace and repository, and garbage collection now. */
import { formatBytes } from "../format.ts";
import { h, type Html, page, repositoryPath } from "../layout.ts";
import type { Visit } from "../session.ts";

export interface UsageFigures {
  totalBytes: number;
  blobs: number;
  namespaces: Array<{ name: string; bytes: number; repositories: number }>;
  repositories: Array<{ name: string; bytes: number }>;
}

export function usageView(visit: Visit, usage: UsageFigures, collected?: string): Html {
  return page(
    "Usage",
    visit,
    h`<h1>Usage</h1>
${collected ? h`<p class="notice" role="status">${collected}</p>` : ""}
<p>${formatBytes(usage.totalBytes)} in ${usage.blobs} blobs. A layer shared by several repositories counts once per namespace and once overall.</p>
<h2>Namespaces</h2>
<div class="table"><table><thead><tr><th scope="col">Namespace</th><th scope="col">Repositories</th><th scope="col">Stored</th></tr></thead><tbody>${usage.namespaces.map(
      (n) => h`<tr><td>${n.name}</td><td>${n.repositories}</td><td>${formatBytes(n.bytes)}</td></tr>`,
    )}</tbody></table></div>
<h2>Repositories</h2>
<div class="table"><table><thead><tr><th scope="col">Repository</th><th scope="col">Stored</th></tr></thead><tbody>${usage.repositories.map(
      (r) => h`<tr><td><a href="${repositoryPath(r.name)}">${r.name}</a></td><td>${formatBytes(r.bytes)}</td></tr>`,
    )}</tbody></table></div>
<h2>Garbage collection</h2>
<p>Applies the retention rules, then frees blobs nothing holds any more (after the grace period).</p>
<form method="post" action="/ui/gc">
<input type="hidden" name="csrf" value="${visit.csrf}">
<label><input type="checkbox" name="dry-run" value="true" checked> Dry run: only report what would go</label>
<p><button type="submit" class="danger">Run garbage collection</button></p>
</form>`,
  );
}
