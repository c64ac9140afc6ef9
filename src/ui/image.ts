/**
 * What the pages show of a manifest: read from the registry's stored bytes and parsed
 * defensively (every field is whatever a client pushed). A config blob is read only
 * when small (MAX_CONFIG_BYTES) and only through the repository's own link to it.
 */
import type { Registry } from "../core/registry.ts";
import { isIndexType } from "../core/media-types.ts";
import { readLimited } from "../core/streams.ts";
import { RegistryError } from "../core/errors.ts";
import type { ManifestRecord } from "../ports/metadata-store.ts";

/** An image config larger than this is not shown: real ones are a few KiB. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** The most entries of any one list (layers, platforms, env, history) a page shows. */
export const MAX_LIST_ENTRIES = 500;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  platform?: string;
  annotations: Array<[string, string]>;
}

export interface ManifestView {
  record: ManifestRecord;
  isIndex: boolean;
  /** An index's manifests, with their platforms. */
  manifests: Descriptor[];
  config: Descriptor | null;
  layers: Descriptor[];
  artifactType: string | null;
  annotations: Array<[string, string]>;
  /** The manifest, its config and layers (an image); the manifests it lists (an index). */
  totalSize: number;
  subject: string | null;
}

export interface ImageConfigView {
  created: string;
  platform: string;
  entrypoint: string[];
  cmd: string[];
  workingDir: string;
  user: string;
  env: string[];
  labels: Array<[string, string]>;
  history: Array<{ created: string; createdBy: string; comment: string; emptyLayer: boolean }>;
}

export async function readManifestView(registry: Registry, record: ManifestRecord): Promise<ManifestView> {
  const content = await registry.manifests.read(record);
  const bytes = content.body instanceof Uint8Array ? content.body : await readLimited(content.body, content.size, () => new Error(`manifest ${record.digest} is larger than recorded`));
  const doc = parseJsonObject(bytes);
  const isIndex = isIndexType(record.mediaType);
  const manifests = isIndex ? descriptors(doc.manifests) : [];
  const config = isIndex ? null : (descriptors([doc.config])[0] ?? null);
  const layers = isIndex ? [] : descriptors(doc.layers);
  const parts = isIndex ? manifests : [...(config ? [config] : []), ...layers];
  return {
    record,
    isIndex,
    manifests,
    config,
    layers,
    artifactType: typeof doc.artifactType === "string" ? doc.artifactType : null,
    annotations: stringEntries(doc.annotations),
    totalSize: record.size + parts.reduce((sum, d) => sum + d.size, 0),
    subject: isObject(doc.subject) && typeof doc.subject.digest === "string" ? doc.subject.digest : null,
  };
}

/** The image config, when the repository holds it and it is small enough to show; null otherwise. */
export async function readImageConfig(registry: Registry, repository: string, config: Descriptor): Promise<ImageConfigView | null> {
  if (config.size > MAX_CONFIG_BYTES) return null;
  let bytes: Uint8Array;
  try {
    const info = await registry.blobs.stat(repository, config.digest);
    const object = await registry.blobs.read(info);
    bytes = await readLimited(object.body, MAX_CONFIG_BYTES, () => new RegistryError("SIZE_INVALID", "config too large"));
  } catch (error) {
    if (error instanceof RegistryError) return null;
    throw error;
  }
  const doc = parseJsonObject(bytes);
  const settings = isObject(doc.config) ? doc.config : {};
  return {
    created: text(doc.created),
    platform: platformOf(doc),
    entrypoint: strings(settings.Entrypoint),
    cmd: strings(settings.Cmd),
    workingDir: text(settings.WorkingDir),
    user: text(settings.User),
    env: strings(settings.Env),
    labels: stringEntries(settings.Labels),
    history: (Array.isArray(doc.history) ? doc.history : []).slice(0, MAX_LIST_ENTRIES).filter(isObject).map((h) => ({
      created: text(h.created),
      createdBy: text(h.created_by),
      comment: text(h.comment),
      emptyLayer: h.empty_layer === true,
    })),
  };
}

/** `linux/amd64`, `linux/arm/v7`: the form `--platform` takes. */
export function platformOf(value: unknown): string {
  if (!isObject(value) || typeof value.os !== "string" || typeof value.architecture !== "string") return "";
  return [value.os, value.architecture, typeof value.variant === "string" ? value.variant : ""].filter(Boolean).join("/");
}

function descriptors(value: unknown): Descriptor[] {
  if (!Array.isArray(value)) return [];
  return value.slice(0, MAX_LIST_ENTRIES).filter(isObject).map((d) => {
    const descriptor: Descriptor = {
      mediaType: text(d.mediaType),
      digest: text(d.digest),
      size: typeof d.size === "number" && Number.isSafeInteger(d.size) && d.size >= 0 ? d.size : 0,
      annotations: stringEntries(d.annotations),
    };
    if (typeof d.artifactType === "string") descriptor.artifactType = d.artifactType;
    const platform = platformOf(d.platform);
    if (platform) descriptor.platform = platform;
    return descriptor;
  });
}

function parseJsonObject(bytes: Uint8Array): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return isObject(value) ? value : {};
  } catch {
    return {};
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.slice(0, MAX_LIST_ENTRIES).filter((v): v is string => typeof v === "string") : [];
}

function stringEntries(value: unknown): Array<[string, string]> {
  if (!isObject(value)) return [];
  return Object.entries(value)
    .filter((entry): entry is [string, string] => typeof entry[1] === "string")
    .slice(0, MAX_LIST_ENTRIES)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
