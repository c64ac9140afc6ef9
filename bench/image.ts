/**
 * OCI image layouts for the push and pull runs, built offline: one layer, a
 * tar holding one file of random bytes, gzipped. Real layers are gzipped, and
 * a gzip layer is what skopeo copies without re-compressing it.
 *
 * Each run needs a layer neither registry has seen (or skopeo's HEAD check and
 * blob-info cache would skip the upload), so the layer is three gzip members
 * (concatenated members are one valid gzip stream): a small one unique to the
 * run (the tar header and 4 KiB of fresh random bytes), the shared bulk of
 * random bytes, compressed once, and the tar's end. Level 0 (stored blocks)
 * keeps the build fast; the bytes are incompressible anyway.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const UNIQUE_BYTES = 4096;

export interface Blob {
  digest: string;
  size: number;
}

export interface LayerImage {
  /** OCI layout directory, for `oci:<dir>:<tag>`. */
  dir: string;
  tag: string;
  layer: Layer;
  config: Blob & { bytes: Buffer };
  manifest: Blob & { bytes: Buffer; mediaType: string };
}

export interface LayerSource {
  fileSize: number;
  bulk: Buffer;
  bulkGzip: Buffer;
}

/** The random bytes every run shares (about `size` bytes of layer). */
export function layerSource(size: number): LayerSource {
  const bulk = randomBytes(size - UNIQUE_BYTES);
  return { fileSize: size, bulk, bulkGzip: gzipSync(bulk, { level: 0 }) };
}

export interface Layer extends Blob {
  bytes: Buffer;
  /** sha256 of the uncompressed tar, for the config's rootfs. */
  diffId: string;
}

/** A layer no registry has seen: the shared bulk behind a fresh unique member. */
export function freshLayer(source: LayerSource): Layer {
  const header = tarHeader("random.bin", source.fileSize);
  const unique = randomBytes(UNIQUE_BYTES);
  const padding = Buffer.alloc((512 - (source.fileSize % 512)) % 512);
  const end = Buffer.concat([padding, Buffer.alloc(1024)]);
  const bytes = Buffer.concat([gzipSync(Buffer.concat([header, unique]), { level: 0 }), source.bulkGzip, gzipSync(end, { level: 0 })]);
  return { bytes, size: bytes.byteLength, digest: sha256Of(bytes), diffId: sha256Of(header, unique, source.bulk, end) };
}

/** Writes an OCI layout holding one image (tag `bench`) with `layer` as its only layer. */
export function writeImage(dir: string, layer: Layer, runId: string): LayerImage {
  const configBytes = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { Labels: { "bench.run": runId } },
      rootfs: { type: "layers", diff_ids: [layer.diffId] },
    }),
  );
  const config = { bytes: configBytes, size: configBytes.byteLength, digest: sha256Of(configBytes) };
  const mediaType = "application/vnd.oci.image.manifest.v1+json";
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: config.digest, size: config.size },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layer.digest, size: layer.size }],
    }),
  );
  const manifest = { bytes: manifestBytes, size: manifestBytes.byteLength, digest: sha256Of(manifestBytes), mediaType };

  const tag = "bench";
  const blobs = join(dir, "blobs", "sha256");
  mkdirSync(blobs, { recursive: true });
  for (const blob of [layer, config, manifest]) writeFileSync(join(blobs, blob.digest.slice("sha256:".length)), blob.bytes);
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType, digest: manifest.digest, size: manifest.size, annotations: { "org.opencontainers.image.ref.name": tag } }],
    }),
  );
  return { dir, tag, layer, config, manifest };
}

export function sha256Of(...parts: Uint8Array[]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return `sha256:${hash.digest("hex")}`;
}

/** A ustar header for one regular file. */
function tarHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) => header.write(value, offset, length, "ascii");
  const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, "0") + "\0";
  field(0, 100, name);
  field(100, 8, octal(0o644, 8));
  field(108, 8, octal(0, 8));
  field(116, 8, octal(0, 8));
  field(124, 12, octal(size, 12));
  field(136, 12, octal(0, 12));
  field(148, 8, "        ");
  field(156, 1, "0");
  field(257, 6, "ustar\0");
  field(263, 2, "00");
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return header;
}
