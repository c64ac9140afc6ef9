/** The sign-in form, the confirmation of a delete or collection, and the answer to a refused or failed request. */
import { h, type Html, page, repositoryPath } from "../layout.ts";
import type { Visit } from "../session.ts";
import { shortDigest } from "../format.ts";

export function signInView(visit: Visit, problem?: string, next?: string): Html {
  return page(
    "Sign in",
    visit,
    h`<h1>Sign in</h1>
${problem ? h`<p class="notice error" role="alert">${problem}</p>` : ""}
<form method="post" action="/ui/sign-in">
<input type="hidden" name="csrf" value="${visit.csrf}">
${next ? h`<input type="hidden" name="next" value="${next}">` : ""}
<label for="username">User name</label>
<input type="text" id="username" name="username" autocomplete="username" required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<p class="muted">The same user name and password as <code>docker login</code>. For an OIDC identity, the issuer's name and an ID token.</p>
<p><button type="submit">Sign in</button></p>
</form>`,
  );
}

export type DeleteTarget = { tag: string } | { digest: string };

export function confirmDeleteView(visit: Visit, repository: string, target: DeleteTarget): Html {
  const what = "tag" in target ? h`the tag <strong class="mono">${target.tag}</strong>` : h`the manifest <strong class="mono">${shortDigest(target.digest)}</strong> and every tag that names it`;
  return page(
    "Delete",
    visit,
    h`<h1>Delete from ${repository}?</h1>
<p>This deletes ${what} from <strong>${repository}</strong>. Clients pulling it will get "manifest unknown". Garbage collection frees its bytes later, once nothing else holds them.</p>
<form method="post" action="${repositoryPath(repository)}/-/delete">
<input type="hidden" name="csrf" value="${visit.csrf}">
${"tag" in target ? h`<input type="hidden" name="tag" value="${target.tag}">` : h`<input type="hidden" name="digest" value="${target.digest}">`}
<button type="submit" class="danger">Delete</button> <a href="${repositoryPath(repository)}">Cancel</a>
</form>`,
  );
}

export function confirmDeleteRepositoryView(visit: Visit, repository: string): Html {
  return page(
    "Delete repository",
    visit,
    h`<h1>Delete the repository ${repository}?</h1>
<p>This deletes every tag, manifest, blob link and upload in progress of <strong>${repository}</strong>, and removes it from the catalog. Clients pulling it will get "repository name not known". Garbage collection frees its bytes later, once nothing else holds them. A push to the same name afterwards starts a new, empty repository.</p>
<form method="post" action="${repositoryPath(repository)}/-/delete-repository">
<input type="hidden" name="csrf" value="${visit.csrf}">
<button type="submit" class="danger">Delete repository</button> <a href="${repositoryPath(repository)}">Cancel</a>
</form>`,
  );
}

/** A real collection deletes what retention rules and the grace period allow: shown what a dry run found first. */
export function confirmCollectionView(visit: Visit, dryRunFound: string): Html {
  return page(
    "Run garbage collection",
    visit,
    h`<h1>Run garbage collection?</h1>
<p class="notice" role="status">${dryRunFound}</p>
<p>A real run deletes what the retention rules select and frees the blobs nothing has held for the grace period. What it deletes cannot be restored; a run started a moment later may find a little more than the dry run above.</p>
<form method="post" action="/ui/gc">
<input type="hidden" name="csrf" value="${visit.csrf}">
<input type="hidden" name="confirmed" value="true">
<button type="submit" class="danger">Run it</button> <a href="/ui/usage">Cancel</a>
</form>`,
  );
}

export function messageView(visit: Visit, title: string, message: string, link?: { href: string; text: string }): Html {
  return page(title, visit, h`<h1>${title}</h1><p class="notice" role="status">${message}</p>${link ? h`<p><a href="${link.href}">${link.text}</a></p>` : ""}`);
}
