import { RegistryError } from "./errors.ts";
import { MANIFEST_TYPES, OCI_INDEX, OCI_MANIFEST, isIndexType, isManifestType, isNonDistributable } from "./media-types.ts";
import { parseDigest } from "./digest.ts";

/** A descriptor as found inside a manifest (image-spec descriptor.md). */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
}

/** What the registry needs to know of a manifest it is asked to store. */
export interface ManifestDocument {
  mediaType: string;
  /** Blobs that must already be in the repository (config and layers). */
  blobs: Descriptor[];
  /** Manifests that must already be in the repository (an index's entries). */
  manifests: Descriptor[];
  /**
   * Every digest the manifest keeps for garbage collection: the above, foreign layers, and any
   * other descriptor in `config`, `layers`, `blobs` and `manifests` (documents stored by earlier
   * versions under other media types are read this way too).
   */
  held: string[];
  subject?: string;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/**
 * Limits on what one manifest may hold. Every descriptor is a reference the store checks, and a
 * document nested deeper than clients can parse (Go's encoding/json, which skopeo, podman and
 * containerd use, stops at 10,000 levels) could be stored but never pulled. Real manifests nest
 * 4 levels and carry tens of layers; an index lists one manifest per platform.
 */
export const MAX_MANIFEST_DESCRIPTORS = 10_000;
export const MAX_MANIFEST_DEPTH = 64;

const invalid = (why: string) => new RegistryError("MANIFEST_INVALID", `manifest invalid: ${why}`);

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Parses the pushed bytes. The media type is the document's `mediaType`, or
 * the request's Content-Type when the document has none (image-spec allows
 * omitting it), or else the document's shape; when both are present they must
 * agree. Whichever way it is found, it is one of MANIFEST_TYPES, so every
 * stored manifest had its references checked: Content-Type alone (generic,
 * wrongly cased, or anything else) never opts a document out of the checks.
 */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined, limits: "push" | "stored" = "push"): ManifestDocument {
  // A stored document (read by garbage collection) may predate the limits: its references still count.
  const enforce = limits === "push";
  if (enforce) assertNestingWithin(bytes, MAX_MANIFEST_DEPTH);
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    throw invalid("the body is not valid UTF-8 JSON");
  }
  if (!isObject(doc)) throw invalid("the body must be a JSON object");
  if (doc.schemaVersion !== 2) throw invalid("schemaVersion must be 2 (schema 1 manifests are not supported)");
  const mediaType = manifestType(doc, contentType);

  const result: ManifestDocument = { mediaType, blobs: [], manifests: [], held: [] };
  if (isIndexType(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw invalid("an index must have a manifests array");
    result.manifests = doc.manifests.map((d, i) => descriptor(d, `manifests[${i}]`));
  } else {
    if (!isObject(doc.config)) throw invalid("an image manifest must have a config descriptor");
    if (!Array.isArray(doc.layers)) throw invalid("an image manifest must have a layers array");
    const config = descriptor(doc.config, "config");
    const layers = doc.layers.map((d, i) => descriptor(d, `layers[${i}]`));
    result.blobs = [config, ...layers.filter((l) => !(isNonDistributable(l.mediaType) && l.urls?.length))];
    if (mediaType === OCI_MANIFEST && typeof doc.artifactType !== "string") result.artifactType = config.mediaType;
  }
  const descriptors = result.blobs.length + result.manifests.length;
  if (enforce && descriptors > MAX_MANIFEST_DESCRIPTORS) {
    throw invalid(`${descriptors} descriptors is more than this registry accepts in one manifest (at most ${MAX_MANIFEST_DESCRIPTORS}); split the image or artifact into several manifests under an index`);
  }
  result.held = [...new Set([...result.blobs, ...result.manifests].map((d) => d.digest).concat(heldDigests(doc)))];
  if (doc.subject !== undefined) result.subject = descriptor(doc.subject, "subject").digest;
  if (doc.artifactType !== undefined) {
    if (typeof doc.artifactType !== "string") throw invalid("artifactType must be a string");
    result.artifactType = doc.artifactType;
  }
  if (doc.annotations !== undefined) {
    if (!isObject(doc.annotations) || !Object.values(doc.annotations).every((v) => typeof v === "string")) {
      throw invalid("annotations must map strings to strings");
    }
    result.annotations = doc.annotations as Record<string, string>;
  }
  return result;
}

/**
 * Refuses a document whose arrays and objects nest deeper than `limit`, before JSON.parse builds
 * it: counts brackets outside strings (JSON strings cannot hold a raw quote, only `\"`).
 */
function assertNestingWithin(bytes: Uint8Array, limit: number): void {
  const QUOTE = 0x22, BACKSLASH = 0x5c, OPEN_BRACE = 0x7b, CLOSE_BRACE = 0x7d, OPEN_BRACKET = 0x5b, CLOSE_BRACKET = 0x5d;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (++depth > limit) throw invalid(`JSON nested more than ${limit} levels deep (this registry's limit; clients cannot read such documents)`);
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth--;
    }
  }
}

/** What the metadata store checks and records for a manifest (ports/metadata-store.ts ManifestReferences). */
export function referencesOf(doc: ManifestDocument): { blobs: string[]; manifests: string[]; held: string[] } {
  return { blobs: doc.blobs.map((d) => d.digest), manifests: doc.manifests.map((d) => d.digest), held: doc.held };
}

/** Digests of the descriptor-shaped entries of a document, whatever its type; malformed ones are skipped. */
function heldDigests(doc: Json): string[] {
  const found: string[] = [];
  const take = (value: unknown) => {
    if (!isObject(value) || typeof value.digest !== "string") return;
    try {
      found.push(parseDigest(value.digest).digest);
    } catch {
      // Not a digest this registry stores: nothing to keep.
    }
  };
  take(doc.config);
  for (const field of ["layers", "blobs", "manifests"]) if (Array.isArray(doc[field])) (doc[field] as unknown[]).forEach(take);
  return found;
}

/** Content-Types that say only "some JSON" or "some bytes": the document decides. */
const GENERIC_TYPES = ["application/json", "application/octet-stream"];

function manifestType(doc: Json, contentType: string | undefined): string {
  const supported = `this registry stores ${MANIFEST_TYPES.join(", ")}`;
  // RFC 9110: type and subtype are case-insensitive; parameters are ignored (distribution-spec).
  const requested = contentType?.split(";")[0]?.trim().toLowerCase() || undefined;
  if (requested && !GENERIC_TYPES.includes(requested) && !isManifestType(requested)) {
    throw invalid(`Content-Type ${requested.slice(0, 100)} is not a manifest type; ${supported}`);
  }
  const declared = doc.mediaType;
  if (declared !== undefined && typeof declared !== "string") throw invalid("mediaType must be a string");
  // image-spec: the field holds the type exactly as registered, lower case.
  if (declared !== undefined && !isManifestType(declared)) throw invalid(`mediaType ${declared.slice(0, 100)} is not a manifest type; ${supported}`);
  const claimed = requested && isManifestType(requested) ? requested : undefined;
  if (declared && claimed && declared !== claimed) throw invalid(`mediaType ${declared} does not match Content-Type ${claimed}`);
  return declared || claimed || (Array.isArray(doc.manifests) ? OCI_INDEX : OCI_MANIFEST);
}

function descriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw invalid(`${where} must be a descriptor object`);
  const { mediaType, digest, size, urls } = value;
  if (typeof mediaType !== "string") throw invalid(`${where}.mediaType must be a string`);
  if (typeof digest !== "string") throw invalid(`${where}.digest must be a string`);
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) throw invalid(`${where}.size must be a non-negative integer`);
  try {
    parseDigest(digest);
  } catch {
    throw invalid(`${where}.digest "${digest}" is not a sha256 or sha512 digest`);
  }
  const result: Descriptor = { mediaType, digest, size };
  if (Array.isArray(urls)) result.urls = urls.filter((u): u is string => typeof u === "string");
  return result;
}
