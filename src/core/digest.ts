import { RegistryError } from "./errors.ts";
import type { DigestAlgorithm } from "../ports/metadata-store.ts";

/** Algorithms this registry computes, with the length of their hex encoding (image-spec § Digests). */
const encodedLength: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

// image-spec descriptor.md: algorithm-component [+._-] ... ":" encoded
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
  /** `<algorithm>:<hex>` */
  digest: string;
}

export function isDigestAlgorithm(value: string): value is DigestAlgorithm {
  return Object.hasOwn(encodedLength, value);
}

/** Parses a digest this registry can verify; anything else is DIGEST_INVALID (400). */
export function parseDigest(value: string | undefined | null): ParsedDigest {
  if (!value || !DIGEST_GRAMMAR.test(value)) {
    throw new RegistryError("DIGEST_INVALID", `"${value ?? ""}" is not a digest of the form <algorithm>:<hex>`);
  }
  const colon = value.indexOf(":");
  const algorithm = value.slice(0, colon);
  const hex = value.slice(colon + 1);
  if (!isDigestAlgorithm(algorithm)) {
    throw new RegistryError("DIGEST_INVALID", `digest algorithm "${algorithm}" is not supported; use sha256 or sha512`);
  }
  if (hex.length !== encodedLength[algorithm] || !/^[a-f0-9]+$/.test(hex)) {
    throw new RegistryError("DIGEST_INVALID", `a ${algorithm} digest is ${encodedLength[algorithm]} lowercase hex characters`);
  }
  return { algorithm, hex, digest: value };
}

/** A manifest reference is a digest when it contains ':' (tags cannot). */
export const looksLikeDigest = (reference: string): boolean => reference.includes(":");

const subtleName: Record<DigestAlgorithm, string> = { sha256: "SHA-256", sha512: "SHA-512" };

/** One-shot digest of bytes already in memory (manifests: at most a few MiB). */
export async function digestBytes(algorithm: DigestAlgorithm, bytes: Uint8Array): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest(subtleName[algorithm], bytes as Uint8Array<ArrayBuffer>));
  return `${algorithm}:${toHex(hash)}`;
}

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}
