/**
 * Shared helpers for the HTTP spec suite (OCI Distribution Spec v1.1.1 plus
 * the [main] additions listed in ../shared/reference/spec-checklist.md).
 * Every helper talks to the registry only through `RegistryTarget.request`,
 * so the same tests run in-process and against a remote server.
 */
import { createHash, randomBytes as nodeRandomBytes } from "node:crypto";
import { expect } from "vitest";
import type { RegistryTarget } from "../support/targets.ts";

export type { RegistryTarget };

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";
export const OCI_EMPTY = "application/vnd.oci.empty.v1+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
export const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
export const DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/** The `{}` blob every artifact uses as its config (image-spec "empty descriptor"). */
export const EMPTY_JSON = new TextEncoder().encode("{}");
export const EMPTY_JSON_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
export const EMPTY_BLOB_DIGEST = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** spec.md § Error Codes: "The `code` field MUST be one of the following". */
export const SPEC_ERROR_CODES = [
  "BLOB_UNKNOWN",
  "BLOB_UPLOAD_INVALID",
  "BLOB_UPLOAD_UNKNOWN",
  "DIGEST_INVALID",
  "MANIFEST_BLOB_UNKNOWN",
  "MANIFEST_INVALID",
  "MANIFEST_UNKNOWN",
  "NAME_INVALID",
  "NAME_UNKNOWN",
  "SIZE_INVALID",
  "UNAUTHORIZED",
  "DENIED",
  "UNSUPPORTED",
  "TOOMANYREQUESTS",
] as const;

export const MiB = 1024 * 1024;

// ---------------------------------------------------------------- bytes & digests

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export function sha512(data: Uint8Array | string): string {
  return `sha512:${createHash("sha512").update(data).digest("hex")}`;
}

export function randomBytes(size: number): Uint8Array {
  return new Uint8Array(nodeRandomBytes(size));
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** A digest that names nothing this suite ever pushes. */
export const randomDigest = (): string => sha256(randomBytes(32));

/** Request bodies: a fresh copy, typed the way `RequestInit.body` wants it. */
export const body = (bytes: Uint8Array): BodyInit => new Uint8Array(bytes) as unknown as BodyInit;

/** A body with no Content-Length: the bytes arrive as a stream of uneven pieces. */
export function streamOf(bytes: Uint8Array, pieceSize = 100_003): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(offset, offset + pieceSize));
      offset += pieceSize;
    },
  });
}

export async function bytesOf(res: Response): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer());
}

/** Compares big byte arrays without vitest printing megabytes on failure. */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  expect(sha256(actual)).toBe(sha256(expected));
}

// ---------------------------------------------------------------- names

const runId = Math.random().toString(36).slice(2, 8).replace(/[^a-z0-9]/g, "x") || "run";
let counter = 0;

/** A repository name no other test uses (also unique across runs against a remote target). */
export function uniqueRepo(area: string): string {
  counter += 1;
  return `spec-${runId}/${area}-${counter}`;
}

// ---------------------------------------------------------------- URLs

const BASE = "http://registry.invalid";

/** A `Location` may be absolute or relative (spec § POST then PUT); requests use the path. */
export function toPath(location: string): string {
  const url = new URL(location, BASE);
  return url.pathname + url.search;
}

export function pathname(location: string): string {
  return new URL(location, BASE).pathname;
}

/** Adds query parameters to a `Location`, keeping any it already has (they MAY be critical). */
export function withQuery(location: string, params: Record<string, string | string[]>): string {
  const url = new URL(location, BASE);
  for (const [key, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) url.searchParams.append(key, v);
  }
  return url.pathname + url.search;
}

/** The target of a `Link: <url>; rel="next"` header (RFC 5988), as a request path; null when absent. */
export function nextLink(res: Response): string | null {
  const header = res.headers.get("link");
  if (header === null) return null;
  const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(header);
  expect(match, `Link header ${header} has rel="next"`).not.toBeNull();
  return toPath(match![1]!);
}

// ---------------------------------------------------------------- errors

export interface OciErrorEntry {
  code: string;
  message?: unknown;
  detail?: unknown;
}

/**
 * spec.md § Error Codes: a JSON error body "MUST have the following format:
 * {"errors":[{"code","message","detail"}]}", each code uppercase letters and
 * underscores. With `code`, one entry must carry that code (or one of them);
 * without, every code must come from the spec's table.
 */
export async function expectOciError(res: Response, status: number, code?: string | readonly string[]): Promise<OciErrorEntry[]> {
  const text = await res.text();
  expect(res.status, `status (body: ${text.slice(0, 300)})`).toBe(status);
  expect(res.headers.get("content-type") ?? "", "error body is JSON").toMatch(/json/);
  const parsed = JSON.parse(text) as { errors?: unknown };
  expect(Array.isArray(parsed.errors), `errors array in ${text.slice(0, 300)}`).toBe(true);
  const errors = parsed.errors as OciErrorEntry[];
  expect(errors.length).toBeGreaterThan(0);
  for (const e of errors) {
    expect(typeof e.code).toBe("string");
    expect(e.code).toMatch(/^[A-Z_]+$/);
    if (e.message !== undefined) expect(typeof e.message).toBe("string");
  }
  const codes = errors.map((e) => e.code);
  if (code === undefined) {
    for (const c of codes) expect(SPEC_ERROR_CODES as readonly string[]).toContain(c);
  } else {
    const wanted = typeof code === "string" ? [code] : code;
    expect(codes.some((c) => wanted.includes(c)), `codes ${codes.join(",")} include one of ${wanted.join(",")}`).toBe(true);
  }
  return errors;
}

// ---------------------------------------------------------------- blobs

export interface StartedUpload {
  res: Response;
  location: string;
}

/** POST /v2/<name>/blobs/uploads/ (end-4a), expecting 202 and a Location. */
export async function startUpload(t: RegistryTarget, repo: string, query: Record<string, string> = {}): Promise<StartedUpload> {
  const path = withQuery(`/v2/${repo}/blobs/uploads/`, query);
  const res = await t.request(path, { method: "POST", headers: { "content-length": "0" } });
  const text = await res.text();
  expect(res.status, `POST ${path}: ${text.slice(0, 300)}`).toBe(202);
  const location = res.headers.get("location");
  expect(location, "POST 202 has Location").toBeTruthy();
  return { res, location: location! };
}

export function patchChunk(t: RegistryTarget, location: string, bytes: Uint8Array, start?: number): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/octet-stream" };
  if (start !== undefined) {
    headers["content-range"] = `${start}-${start + bytes.length - 1}`;
    headers["content-length"] = String(bytes.length);
  }
  return t.request(toPath(location), { method: "PATCH", headers, body: body(bytes) });
}

export function putUpload(t: RegistryTarget, location: string, digest: string, bytes?: Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
  const init: RequestInit = { method: "PUT", headers: { "content-type": "application/octet-stream", ...headers } };
  if (bytes !== undefined) init.body = body(bytes);
  return t.request(withQuery(location, { digest }), init);
}

/** Pushes a blob by POST then PUT (the one upload every registry supports) and returns its digest. */
export async function pushBlob(t: RegistryTarget, repo: string, bytes: Uint8Array, algorithm: "sha256" | "sha512" = "sha256"): Promise<string> {
  const digest = algorithm === "sha256" ? sha256(bytes) : sha512(bytes);
  const { location } = await startUpload(t, repo, algorithm === "sha256" ? {} : { "digest-algorithm": algorithm });
  const res = await putUpload(t, location, digest, bytes);
  const text = await res.text();
  expect(res.status, `PUT blob ${digest}: ${text.slice(0, 300)}`).toBe(201);
  return digest;
}

export async function blobStatus(t: RegistryTarget, repo: string, digest: string): Promise<number> {
  const res = await t.request(`/v2/${repo}/blobs/${digest}`, { method: "HEAD" });
  await res.arrayBuffer();
  return res.status;
}

// ---------------------------------------------------------------- manifests

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
  urls?: string[];
  data?: string;
}

export function descriptorOf(mediaType: string, bytes: Uint8Array): Descriptor {
  return { mediaType, digest: sha256(bytes), size: bytes.length };
}

export function putManifest(t: RegistryTarget, repo: string, reference: string, bytes: Uint8Array | string, contentType: string | null = OCI_MANIFEST, query = ""): Promise<Response> {
  const headers: Record<string, string> = {};
  if (contentType !== null) headers["content-type"] = contentType;
  const data = typeof bytes === "string" ? utf8(bytes) : bytes;
  return t.request(`/v2/${repo}/manifests/${reference}${query}`, { method: "PUT", headers, body: body(data) });
}

export interface PushedManifest {
  digest: string;
  bytes: Uint8Array;
  mediaType: string;
  size: number;
  json: Record<string, unknown>;
  res: Response;
}

export function encodeManifest(json: Record<string, unknown>): Uint8Array {
  return utf8(JSON.stringify(json, null, 2));
}

/** PUTs `json` (serialised once, so its digest is exact) and expects 201. */
export async function pushManifestJson(
  t: RegistryTarget,
  repo: string,
  json: Record<string, unknown>,
  reference?: string,
  contentType?: string,
): Promise<PushedManifest> {
  const bytes = encodeManifest(json);
  const digest = sha256(bytes);
  const mediaType = contentType ?? (typeof json.mediaType === "string" ? json.mediaType : OCI_MANIFEST);
  const res = await putManifest(t, repo, reference ?? digest, bytes, mediaType);
  const text = await res.text();
  expect(res.status, `PUT manifest ${reference ?? digest}: ${text.slice(0, 300)}`).toBe(201);
  return { digest, bytes, mediaType, size: bytes.length, json, res };
}

export interface ImageOptions {
  tag?: string;
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
  configMediaType?: string;
  /** Number of random layers; default 1. */
  layers?: number;
}

/** Pushes a config blob and `layers` random layer blobs; returns their descriptors. */
export async function pushImageBlobs(
  t: RegistryTarget,
  repo: string,
  layers = 1,
  configMediaType = OCI_CONFIG,
): Promise<{ config: Descriptor; layers: Descriptor[] }> {
  const config = utf8(JSON.stringify({ architecture: "amd64", os: "linux", nonce: Math.random() }));
  await pushBlob(t, repo, config);
  const descriptors: Descriptor[] = [];
  for (let i = 0; i < layers; i++) {
    const layer = randomBytes(64 + i);
    await pushBlob(t, repo, layer);
    descriptors.push(descriptorOf(OCI_LAYER, layer));
  }
  return { config: descriptorOf(configMediaType, config), layers: descriptors };
}

/** The JSON of an OCI image manifest over pushed blobs (nothing else is pushed). */
export async function imageManifestJson(t: RegistryTarget, repo: string, options: ImageOptions = {}): Promise<Record<string, unknown>> {
  const blobs = await pushImageBlobs(t, repo, options.layers ?? 1, options.configMediaType ?? OCI_CONFIG);
  return {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    ...(options.artifactType ? { artifactType: options.artifactType } : {}),
    config: blobs.config,
    layers: blobs.layers,
    ...(options.subject ? { subject: options.subject } : {}),
    ...(options.annotations ? { annotations: options.annotations } : {}),
  };
}

/** Pushes a config and layers, then an OCI image manifest referring to them (by `tag`, else by digest). */
export async function pushImage(t: RegistryTarget, repo: string, options: ImageOptions = {}): Promise<PushedManifest> {
  return pushManifestJson(t, repo, await imageManifestJson(t, repo, options), options.tag);
}

/** Pushes an OCI image index of `children` (by `tag`, else by digest). */
export async function pushIndex(
  t: RegistryTarget,
  repo: string,
  children: Descriptor[],
  options: { tag?: string; subject?: Descriptor; artifactType?: string; annotations?: Record<string, string> } = {},
): Promise<PushedManifest> {
  const json: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    ...(options.artifactType ? { artifactType: options.artifactType } : {}),
    manifests: children,
    ...(options.subject ? { subject: options.subject } : {}),
    ...(options.annotations ? { annotations: options.annotations } : {}),
  };
  return pushManifestJson(t, repo, json, options.tag);
}

/** Pushes an artifact: `artifactType` with the empty `{}` config (image-spec guidance for artifacts). */
export async function pushArtifact(
  t: RegistryTarget,
  repo: string,
  artifactType: string,
  options: { subject?: Descriptor; annotations?: Record<string, string>; tag?: string } = {},
): Promise<PushedManifest> {
  await pushBlob(t, repo, EMPTY_JSON);
  const json: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType,
    config: { mediaType: OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: 2 },
    layers: [{ mediaType: OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: 2 }],
    ...(options.subject ? { subject: options.subject } : {}),
    ...(options.annotations ? { annotations: options.annotations } : {}),
  };
  return pushManifestJson(t, repo, json, options.tag);
}

export function descriptorOfManifest(m: PushedManifest): Descriptor {
  return { mediaType: m.mediaType, digest: m.digest, size: m.size };
}

export async function manifestStatus(t: RegistryTarget, repo: string, reference: string): Promise<number> {
  const res = await t.request(`/v2/${repo}/manifests/${reference}`, { method: "HEAD" });
  await res.arrayBuffer();
  return res.status;
}

export async function listTags(t: RegistryTarget, repo: string, query = ""): Promise<{ res: Response; tags: string[] }> {
  const res = await t.request(`/v2/${repo}/tags/list${query}`);
  const text = await res.text();
  expect(res.status, `tags list: ${text.slice(0, 300)}`).toBe(200);
  const parsed = JSON.parse(text) as { name: string; tags: string[] };
  return { res, tags: parsed.tags };
}

/** Splits a header that may have been sent once per value or comma-joined (RFC 9110 § 5.3). */
export function headerValues(res: Response, name: string): string[] {
  const raw = res.headers.get(name);
  if (raw === null) return [];
  return raw.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}

/**
 * `Docker-Content-Digest` on a GET/HEAD ([main] MUST). For a sha256 request it
 * must be that digest. For another algorithm the spec lets the header carry
 * "the canonical digest ... which MAY differ from the provided digest" when
 * "the hashing algorithms used do not match", so the sha256 of the same
 * content is accepted too; either way it MUST match the content.
 */
export function expectDigestHeader(res: Response, requested: string, content: Uint8Array): void {
  const header = res.headers.get("docker-content-digest");
  if (requested.startsWith("sha256:")) expect(header).toBe(requested);
  else expect([requested, sha256(content)]).toContain(header);
}
