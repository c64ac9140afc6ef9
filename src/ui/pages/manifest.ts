/**
 * `/ui/r/<name>/-/manifest/<digest>`: for an index its platforms; for an image its config
 * (created, entrypoint and command, environment, labels, history) and layers; for both,
 * annotations, the manifest it is about (`subject`) and its referrers (signatures, SBOMs,
 * attestations) grouped by artifact type.
 */
import type { Registry } from "../../core/registry.ts";
import { listReferrers } from "../../core/listings.ts";
import type { ManifestRecord } from "../../ports/metadata-store.ts";
import { formatBytes, formatTime, shortDigest } from "../format.ts";
import { type Descriptor, readImageConfig, readManifestView, type ImageConfigView, type ManifestView } from "../image.ts";
import { h, type Html, manifestPath, page, repositoryPath, withQuery } from "../layout.ts";
import type { Visit } from "../session.ts";
import { pullLines } from "./pull-lines.ts";
import { kindOf } from "./repository.ts";

/** Referrers shown per artifact type: a manifest signed on every CI run may have thousands. */
const REFERRERS_SHOWN = 50;

/** Configs this page reads: an artifact's config (often the empty `{}`) is only described. */
const IMAGE_CONFIG_TYPES = ["application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"];

export async function manifestView(registry: Registry, visit: Visit, repository: string, record: ManifestRecord, address: { host: string; plainHttp: boolean }): Promise<Html> {
  const view = await readManifestView(registry, record);
  const config = view.config && IMAGE_CONFIG_TYPES.includes(view.config.mediaType) ? await readImageConfig(registry, repository, view.config) : null;
  const referrers = (await listReferrers(registry.metadata, repository, record.digest, undefined)).index.manifests;
  const groups = new Map<string | null, typeof referrers>();
  for (const referrer of referrers) {
    const type = referrer.artifactType ?? null;
    groups.set(type, [...(groups.get(type) ?? []), referrer]);
  }
  const body = h`<p><a href="/">Repositories</a> / <a href="${repositoryPath(repository)}">${repository}</a> /</p>
<h1><span class="mono">${shortDigest(record.digest)}</span> <span class="muted">${kindOf(view)}</span></h1>
<dl>
<dt>Digest</dt><dd class="mono">${record.digest}</dd>
<dt>Media type</dt><dd class="mono">${record.mediaType}</dd>
${view.artifactType ? h`<dt>Artifact type</dt><dd class="mono">${view.artifactType}</dd>` : ""}
<dt>Size</dt><dd>${formatBytes(view.totalSize)} <span class="muted">(manifest ${formatBytes(record.size)})</span></dd>
${view.subject ? h`<dt>About</dt><dd><a class="mono" href="${manifestPath(repository, view.subject)}">${view.subject}</a></dd>` : ""}
</dl>
<h2>Pull</h2>
${pullLines(address, repository, record.digest)}
${view.isIndex ? platformsHtml(repository, view) : imageHtml(view, config)}
${annotationsHtml("Annotations", view.annotations)}
<h2>Referrers</h2>
${
  referrers.length === 0
    ? h`<p class="muted">Nothing in this repository refers to this manifest (no signature, SBOM or attestation).</p>`
    : [...groups].map(
        ([type, list]) => h`<h3 class="mono">${type ?? "(no artifact type)"}</h3><div class="table"><table><thead><tr><th scope="col">Digest</th><th scope="col">Size</th><th scope="col">Annotations</th></tr></thead><tbody>${list.slice(0, REFERRERS_SHOWN).map(
          (r) => h`<tr><td><a class="mono" href="${manifestPath(repository, r.digest)}">${shortDigest(r.digest)}</a></td><td>${formatBytes(r.size)}</td><td>${Object.entries(r.annotations ?? {}).map(
            ([k, v]) => h`<div><span class="mono">${k}</span>: ${v}</div>`,
          )}</td></tr>`,
        )}</tbody></table></div>${
          list.length > REFERRERS_SHOWN
            ? h`<p class="muted">And ${list.length - REFERRERS_SHOWN} more of this type: <code>GET /v2/${repository}/referrers/${record.digest}${type === null ? "" : `?artifactType=${encodeURIComponent(type)}`}</code> lists them all.</p>`
            : ""
        }`,
      )
}
${visit.viewer.mayDelete(repository) ? h`<h2>Delete</h2><p><a class="button danger" href="${withQuery(`${repositoryPath(repository)}/-/delete`, { digest: record.digest })}">Delete this manifest…</a></p>` : ""}`;
  return page(`${repository}@${shortDigest(record.digest)}`, visit, body);
}

function platformsHtml(repository: string, view: ManifestView): Html {
  return h`<h2>Platforms</h2><div class="table"><table><thead><tr><th scope="col">Platform</th><th scope="col">Digest</th><th scope="col">Media type</th><th scope="col">Size</th></tr></thead><tbody>${view.manifests.map(
    (m) => h`<tr><td>${m.platform ?? m.artifactType ?? ""}</td><td><a class="mono" href="${manifestPath(repository, m.digest)}">${shortDigest(m.digest)}</a></td><td class="mono">${m.mediaType}</td><td>${formatBytes(m.size)}</td></tr>`,
  )}</tbody></table></div>`;
}

function imageHtml(view: ManifestView, config: ImageConfigView | null): Html {
  return h`<h2>Configuration</h2>
${
  config
    ? h`<dl>
<dt>Created</dt><dd>${formatTime(config.created)}</dd>
<dt>Platform</dt><dd>${config.platform}</dd>
<dt>Entrypoint</dt><dd class="mono">${config.entrypoint.length ? JSON.stringify(config.entrypoint) : ""}</dd>
<dt>Command</dt><dd class="mono">${config.cmd.length ? JSON.stringify(config.cmd) : ""}</dd>
${config.workingDir ? h`<dt>Working directory</dt><dd class="mono">${config.workingDir}</dd>` : ""}
${config.user ? h`<dt>User</dt><dd class="mono">${config.user}</dd>` : ""}
</dl>
${config.env.length ? h`<h3>Environment</h3><pre><code>${config.env.join("\n")}</code></pre>` : ""}
${annotationsHtml("Labels", config.labels)}
${
  config.history.length
    ? h`<h3>History</h3><div class="table"><table><thead><tr><th scope="col">Created</th><th scope="col">Step</th></tr></thead><tbody>${config.history.map(
        (step) => h`<tr><td>${formatTime(step.created)}</td><td class="mono">${step.createdBy || step.comment}${step.emptyLayer ? h` <span class="muted">(no layer)</span>` : ""}</td></tr>`,
      )}</tbody></table></div>`
    : ""
}`
    : h`<p class="muted">${view.config ? `The configuration (${view.config.mediaType}, ${formatBytes(view.config.size)}) is not shown: it is not an image configuration this page can read.` : "This manifest has no configuration."}</p>`
}
<h2>Layers</h2>
${view.layers.length === 0 ? h`<p class="muted">No layers.</p>` : h`<div class="table"><table><thead><tr><th scope="col">#</th><th scope="col">Digest</th><th scope="col">Media type</th><th scope="col">Size</th></tr></thead><tbody>${view.layers.map(
  (layer: Descriptor, i) => h`<tr><td>${i + 1}</td><td class="mono">${shortDigest(layer.digest)}</td><td class="mono">${layer.mediaType}</td><td>${formatBytes(layer.size)}</td></tr>`,
)}</tbody></table></div>`}`;
}

function annotationsHtml(title: string, entries: Array<[string, string]>): Html {
  if (entries.length === 0) return h``;
  return h`<h3>${title}</h3><dl>${entries.map(([key, value]) => h`<dt class="mono">${key}</dt><dd>${value}</dd>`)}</dl>`;
}
