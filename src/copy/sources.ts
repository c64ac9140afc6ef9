/**
 * What `copy` reads from: an OCI layout (a directory, or the same in a tar file), a
 * `docker save`/`podman save` archive, or a registry. Manifests are small and read whole;
 * blobs are only ever read as streams of a byte range, so a layer is never held in memory
 * and a chunk that failed is read again from where the destination says it stopped.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { indexTar, normalise, type TarMember } from "./tar-index.ts";
import { discard, header, readSmall, send, type HttpAnswer } from "./http.ts";
import { RegistryClient, repositoryScope } from "./registry-client.ts";
import type { DockerReference, Transport } from "./transports.ts";

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface ManifestBytes {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

export interface ImageSource {
  /** The manifest or index the source reference names. */
  root(): Promise<ManifestBytes>;
  /** A manifest an index names. */
  manifest(descriptor: Descriptor): Promise<ManifestBytes>;
  /** Bytes `start` to `end` (exclusive) of a blob. */
  blob(descriptor: Descriptor, start: number, end: number): Promise<Readable>;
  /** Set when the source is a registry: a copy within one registry mounts instead of uploading. */
  readonly registry?: { client: RegistryClient; repository: string };
}

/** Manifests larger than this are refused (the spec asks registries to take 4 MiB). */
const MANIFEST_LIMIT = 8 * 1024 * 1024;
export const MEDIA_TYPES = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
};
const ACCEPT = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerList, MEDIA_TYPES.dockerManifest].join(", ");

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Files of a layout: a directory, or members of a tar archive. */
interface Files {
  read(path: string, limit: number): Promise<Buffer>;
  stream(path: string, start: number, end: number): Readable;
  describe: string;
}

function directoryFiles(dir: string): Files {
  return {
    describe: dir,
    async read(path, limit) {
      const full = join(dir, path);
      if ((await stat(full)).size > limit) throw new Error(`${full} is larger than ${limit} bytes`);
      return readFile(full);
    },
    stream: (path, start, end) => (end > start ? createReadStream(join(dir, path), { start, end: end - 1 }) : Readable.from([])),
  };
}

async function tarFiles(file: string): Promise<Files> {
  const members = await indexTar(file);
  const member = (path: string): TarMember => {
    const found = members.get(normalise(path));
    if (!found) throw new Error(`${file} has no ${path}`);
    return found;
  };
  return {
    describe: file,
    async read(path, limit) {
      const { offset, size } = member(path);
      if (size > limit) throw new Error(`${path} in ${file} is larger than ${limit} bytes`);
      return readSmall(size > 0 ? createReadStream(file, { start: offset, end: offset + size - 1 }) : Readable.from([]), limit);
    },
    stream(path, start, end) {
      const { offset, size } = member(path);
      if (end > size) throw new Error(`${path} in ${file} has ${size} bytes, not ${end}`);
      return end > start ? createReadStream(file, { start: offset + start, end: offset + end - 1 }) : Readable.from([]);
    },
  };
}

function blobPath(digest: string): string {
  const [algorithm, hex] = digest.split(":");
  if (!algorithm || !hex || !/^[a-z0-9]+$/.test(algorithm) || !/^[a-zA-Z0-9=_-]+$/.test(hex)) throw new Error(`"${digest}" is not a digest`);
  return `blobs/${algorithm}/${hex}`;
}

function parseJson<T>(bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString("utf8")) as T;
  } catch {
    throw new Error(`${what} is not JSON`);
  }
}

/** The media type a manifest's own `mediaType` field (or its shape) says. */
export function manifestMediaType(bytes: Buffer, fallback?: string): string {
  const parsed = parseJson<{ mediaType?: unknown; manifests?: unknown }>(bytes, "a manifest");
  if (typeof parsed.mediaType === "string") return parsed.mediaType;
  if (fallback) return fallback;
  return Array.isArray(parsed.manifests) ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest;
}

/** An OCI image layout (image-spec § Image Layout) over a directory or a tar archive. */
async function layoutSource(files: Files, tag: string | undefined): Promise<ImageSource> {
  const index = parseJson<{ manifests?: (Descriptor & { annotations?: Record<string, string> })[] }>(await files.read("index.json", MANIFEST_LIMIT), `${files.describe}/index.json`);
  const manifests = index.manifests ?? [];
  const tagged = (d: { annotations?: Record<string, string> }) => d.annotations?.["org.opencontainers.image.ref.name"];
  let chosen: Descriptor | undefined;
  if (tag !== undefined) chosen = manifests.find((d) => tagged(d) === tag);
  else if (manifests.length === 1) chosen = manifests[0];
  if (!chosen) {
    const tags = manifests.map(tagged).filter((t) => t !== undefined);
    throw new Error(
      tag !== undefined
        ? `${files.describe} has no image tagged "${tag}" (tags: ${tags.join(", ") || "none"})`
        : `${files.describe} holds ${manifests.length} images; name one with :TAG (tags: ${tags.join(", ") || "none"})`,
    );
  }
  const root = chosen;
  const read = async (descriptor: Descriptor): Promise<ManifestBytes> => {
    const bytes = await files.read(blobPath(descriptor.digest), MANIFEST_LIMIT);
    if (sha256Digest(bytes) !== descriptor.digest && descriptor.digest.startsWith("sha256:")) throw new Error(`${files.describe}: ${descriptor.digest} does not hold the bytes its name says`);
    return { bytes, digest: descriptor.digest, mediaType: descriptor.mediaType ?? manifestMediaType(bytes) };
  };
  return {
    root: () => read(root),
    manifest: read,
    blob: async (descriptor, start, end) => files.stream(blobPath(descriptor.digest), start, end),
  };
}

/** `docker save` / `podman save`: manifest.json names each image's config and layers; the manifest is made here. */
async function dockerArchiveSource(file: string, select: { name: string } | { index: number } | undefined): Promise<ImageSource> {
  const files = await tarFiles(file);
  const entries = parseJson<{ Config: string; RepoTags?: string[] | null; Layers: string[] }[]>(await files.read("manifest.json", MANIFEST_LIMIT), `${file}'s manifest.json`);
  let entry: (typeof entries)[number] | undefined;
  if (select === undefined) {
    if (entries.length !== 1) throw new Error(`${file} holds ${entries.length} images; name one with docker-archive:${file}:NAME:TAG or :@N`);
    entry = entries[0];
  } else if ("index" in select) entry = entries[select.index];
  else entry = entries.find((e) => (e.RepoTags ?? []).some((t) => t === select.name || t === `docker.io/${select.name}` || t === `docker.io/library/${select.name}` || t === `localhost/${select.name}`));
  if (!entry) throw new Error(`${file} has no image ${select && "name" in select ? select.name : `@${select && "index" in select ? select.index : 0}`}`);
  const configBytes = await files.read(entry.Config, MANIFEST_LIMIT);
  const config = parseJson<{ rootfs?: { diff_ids?: string[] } }>(configBytes, `${file}: ${entry.Config}`);
  const diffIds = config.rootfs?.diff_ids ?? [];
  const members = await indexTar(file);
  const paths = new Map<string, string>();
  const configDigest = sha256Digest(configBytes);
  paths.set(configDigest, entry.Config);
  const layers: Descriptor[] = [];
  for (const [i, path] of entry.Layers.entries()) {
    const member = members.get(normalise(path));
    if (!member) throw new Error(`${file} has no ${path}`);
    const named = /(?:^|\/)blobs\/sha256\/([a-f0-9]{64})$/.exec(normalise(path));
    // Layers saved as `<id>/layer.tar` are uncompressed: their digest is the config's diff_id.
    const digest = named ? `sha256:${named[1]}` : diffIds[i];
    if (!digest) throw new Error(`${file}: no digest for ${path} (the config lists ${diffIds.length} diff_ids)`);
    const head = await readSmall(member.size > 0 ? files.stream(path, 0, Math.min(2, member.size)) : Readable.from([]), 2);
    const gzip = head[0] === 0x1f && head[1] === 0x8b;
    layers.push({ mediaType: gzip ? MEDIA_TYPES.dockerLayerGzip : MEDIA_TYPES.dockerLayer, digest, size: member.size });
    paths.set(digest, path);
  }
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.dockerManifest, config: { mediaType: MEDIA_TYPES.dockerConfig, size: configBytes.length, digest: configDigest }, layers }),
  );
  const root: ManifestBytes = { bytes: manifest, mediaType: MEDIA_TYPES.dockerManifest, digest: sha256Digest(manifest) };
  return {
    root: async () => root,
    manifest: async () => {
      throw new Error(`${file} holds single images, no index`);
    },
    blob: async (descriptor, start, end) => {
      const path = paths.get(descriptor.digest);
      if (!path) throw new Error(`${file} has no blob ${descriptor.digest}`);
      return files.stream(path, start, end);
    },
  };
}

/** A registry (docker://): manifests by tag or digest, blobs by range, following redirects to storage without our credentials. */
function registrySource(client: RegistryClient, reference: DockerReference): ImageSource {
  const { repository } = reference;
  const scopes = [repositoryScope(repository, "pull")];
  const read = async (ref: string, expected: string | undefined): Promise<ManifestBytes> => {
    const answer = await client.request("GET", `/v2/${repository}/manifests/${ref}`, { scopes, headers: { Accept: ACCEPT } });
    if (answer.status !== 200) return client.fail(answer, `GET manifest ${repository}:${ref}`);
    const bytes = await readSmall(answer.body, MANIFEST_LIMIT);
    const digest = sha256Digest(bytes);
    if (expected && expected.startsWith("sha256:") && digest !== expected) throw new Error(`${client.host} answered ${repository}@${expected} with other bytes (${digest})`);
    return { bytes, digest, mediaType: manifestMediaType(bytes, header(answer, "content-type")?.split(";")[0]) };
  };
  return {
    registry: { client, repository },
    root: () => read(reference.digest ?? reference.tag!, reference.digest),
    manifest: (descriptor) => read(descriptor.digest, descriptor.digest),
    async blob(descriptor, start, end) {
      if (end <= start) return Readable.from([]);
      const range = { Range: `bytes=${start}-${end - 1}` };
      let answer: HttpAnswer = await client.request("GET", `/v2/${repository}/blobs/${descriptor.digest}`, { scopes, headers: range });
      for (let hop = 0; answer.status >= 300 && answer.status < 400 && hop < 5; hop++) {
        const location = header(answer, "location");
        discard(answer);
        if (!location) break;
        answer = await send(new URL(location, client.origin), "GET", range);
      }
      if (answer.status === 206) return answer.body;
      if (answer.status === 200) return answer.body.pipe(byteRange(start, end));
      return client.fail(answer, `GET blob ${repository}@${descriptor.digest}`);
    },
  };
}

/** Bytes [start, end) of a stream that starts at 0 (a server that ignored Range). */
function byteRange(start: number, end: number): Transform {
  let position = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const from = Math.max(0, start - position);
      const to = Math.min(chunk.length, end - position);
      position += chunk.length;
      if (to > from) this.push(chunk.subarray(from, to));
      if (position >= end) this.push(null);
      callback();
    },
  });
}

export async function openSource(transport: Transport, registryClient: () => RegistryClient): Promise<ImageSource> {
  switch (transport.kind) {
    case "oci":
      return layoutSource(directoryFiles(transport.dir), transport.tag);
    case "oci-archive":
      return layoutSource(await tarFiles(transport.file), transport.tag);
    case "docker-archive":
      return dockerArchiveSource(transport.file, transport.select);
    case "docker":
      return registrySource(registryClient(), transport.reference);
  }
}
