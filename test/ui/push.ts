/**
 * Pushes blobs and manifests over the registry's HTTP API, as a client like oras would,
 * for values no image tool lets through (hostile annotations, media types). `send` is
 * an in-process app's request() or fetch against a running server.
 */
import { createHash } from "node:crypto";

export type Send = (path: string, init?: RequestInit) => Promise<Response>;

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";

/** Every place a client controls text a page shows; any of it running would set window.__pwned. */
export const HOSTILE = `"><script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'`;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  [field: string]: unknown;
}

export const digestOf = (bytes: Uint8Array): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

export async function pushBlob(send: Send, repository: string, bytes: Uint8Array, mediaType: string, headers: Record<string, string> = {}): Promise<Descriptor> {
  const digest = digestOf(bytes);
  const res = await send(`/v2/${repository}/blobs/uploads/?digest=${digest}`, {
    method: "POST",
    headers: { ...headers, "Content-Type": "application/octet-stream", "Content-Length": String(bytes.byteLength) },
    body: new Uint8Array(bytes) as unknown as BodyInit,
  });
  if (res.status !== 201) throw new Error(`blob push to ${repository} answered ${res.status}: ${await res.text()}`);
  return { mediaType, digest, size: bytes.byteLength };
}

export async function pushManifest(send: Send, repository: string, reference: string, manifest: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Descriptor> {
  const bytes = new TextEncoder().encode(JSON.stringify(manifest));
  const mediaType = String(manifest.mediaType);
  const res = await send(`/v2/${repository}/manifests/${reference}`, {
    method: "PUT",
    headers: { ...headers, "Content-Type": mediaType },
    body: new Uint8Array(bytes) as unknown as BodyInit,
  });
  if (res.status !== 201) throw new Error(`manifest push to ${repository}:${reference} answered ${res.status}: ${await res.text()}`);
  return { mediaType, digest: digestOf(bytes), size: bytes.byteLength };
}

/**
 * An image whose config, layer media type and annotations hold HOSTILE, and a signature
 * referring to it whose artifact type and annotations hold it too. Answers their digests.
 */
export async function pushHostileImage(send: Send, repository: string, tag: string, headers: Record<string, string> = {}): Promise<{ image: Descriptor; referrer: Descriptor }> {
  const config = {
    created: "2026-01-01T00:00:00Z",
    architecture: "amd64",
    os: "linux",
    config: { Env: [`HOSTILE=${HOSTILE}`], Entrypoint: [HOSTILE], Labels: { [HOSTILE]: HOSTILE, "org.opencontainers.image.title": HOSTILE } },
    rootfs: { type: "layers", diff_ids: [] },
    history: [{ created: "2026-01-01T00:00:00Z", created_by: HOSTILE }],
  };
  const configDescriptor = await pushBlob(send, repository, new TextEncoder().encode(JSON.stringify(config)), OCI_CONFIG, headers);
  const layer = await pushBlob(send, repository, new TextEncoder().encode(`layer of ${tag}`), `${OCI_LAYER}+${HOSTILE}`, headers);
  const image = await pushManifest(send, repository, tag, { schemaVersion: 2, mediaType: OCI_MANIFEST, config: configDescriptor, layers: [layer], annotations: { [HOSTILE]: HOSTILE } }, headers);
  const empty = await pushBlob(send, repository, new TextEncoder().encode("{}"), "application/vnd.oci.empty.v1+json", headers);
  const referrer = await pushManifest(
    send,
    repository,
    `sha256-${image.digest.slice(7)}.sig`,
    { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: `application/vnd.example.sig+${HOSTILE}`, config: empty, layers: [empty], subject: image, annotations: { signer: HOSTILE } },
    headers,
  );
  return { image, referrer };
}
