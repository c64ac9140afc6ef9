/**
 * Builds, offline with umoci, the OCI layout the browser tests push with skopeo:
 *   app     an image with a file, labels, an entrypoint and an environment
 *   multi   an index of two images, linux/amd64 and linux/arm64
 *   sig     a signature-like manifest whose `subject` is `app` (a referrer)
 *   old     another image, the tag the tests delete
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string };
}

const REF = "org.opencontainers.image.ref.name";

export function buildLayout(dir: string): void {
  const layout = join(dir, "layout");
  const umoci = (...args: string[]) => execFileSync("umoci", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  umoci("init", "--layout", layout);
  writeFileSync(join(dir, "hello.txt"), "hello from the web interface tests\n");
  for (const [tag, arch] of [["app", "amd64"], ["amd64", "amd64"], ["arm64", "arm64"], ["old", "amd64"]] as const) {
    umoci("new", "--image", `${layout}:${tag}`);
    umoci("insert", "--image", `${layout}:${tag}`, join(dir, "hello.txt"), `/${tag}.txt`);
    umoci("config", "--image", `${layout}:${tag}`, "--architecture", arch, "--os", "linux", "--config.label", `org.opencontainers.image.title=${tag} image`, "--config.env", "GREETING=hello", "--config.entrypoint", "/bin/hello");
  }
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as { manifests: Descriptor[] };
  const byTag = (tag: string) => index.manifests.find((m) => m.annotations?.[REF] === tag)!;
  const strip = ({ annotations: _ignored, ...rest }: Descriptor): Descriptor => rest;

  const multi = writeBlob(layout, {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      { ...strip(byTag("amd64")), platform: { os: "linux", architecture: "amd64" } },
      { ...strip(byTag("arm64")), platform: { os: "linux", architecture: "arm64" } },
    ],
  });
  const app = readJson(layout, byTag("app").digest) as { config: Descriptor };
  const signature = writeBlob(layout, {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    artifactType: "application/vnd.dev.cosign.artifact.sig.v1+json",
    config: app.config,
    layers: [writeBlobDescriptor(layout, "application/vnd.dev.cosign.simplesigning.v1+json", new TextEncoder().encode('{"critical":{}}'))],
    subject: strip(byTag("app")),
    annotations: { "dev.cosignproject.cosign/signature": "MEUCIQ-test-signature" },
  });
  index.manifests.push({ ...multi, mediaType: "application/vnd.oci.image.index.v1+json", annotations: { [REF]: "multi" } });
  index.manifests.push({ ...signature, annotations: { [REF]: "sig" } });
  writeFileSync(join(layout, "index.json"), JSON.stringify(index));
}

function writeBlob(layout: string, document: Record<string, unknown>): Descriptor {
  return writeBlobDescriptor(layout, String(document.mediaType), new TextEncoder().encode(JSON.stringify(document)));
}

function writeBlobDescriptor(layout: string, mediaType: string, bytes: Uint8Array): Descriptor {
  const hex = createHash("sha256").update(bytes).digest("hex");
  writeFileSync(join(layout, "blobs", "sha256", hex), bytes);
  return { mediaType, digest: `sha256:${hex}`, size: bytes.byteLength };
}

function readJson(layout: string, digest: string): unknown {
  return JSON.parse(readFileSync(join(layout, "blobs", "sha256", digest.slice(7)), "utf8"));
}
