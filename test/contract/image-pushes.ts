/** Pushing and pulling whole images through the HTTP API, for the lifecycle contract suites (imports only src). */
import type { createApp } from "../../src/http/app.ts";

export const MANIFEST = "application/vnd.oci.image.manifest.v1+json";

export async function sha256(bytes: Uint8Array): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return `sha256:${[...hash].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export async function pushBlob(app: ReturnType<typeof createApp>, repo: string, bytes: Uint8Array): Promise<Response> {
  return app.request(`/v2/${repo}/blobs/uploads/?digest=${await sha256(bytes)}`, { method: "POST", body: bytes as unknown as BodyInit, headers: { "Content-Length": String(bytes.byteLength) } });
}

export async function pushImage(app: ReturnType<typeof createApp>, repo: string, tag: string, config: Uint8Array, layers: Uint8Array[]): Promise<{ status: number; digest: string }> {
  for (const bytes of [config, ...layers]) {
    const res = await pushBlob(app, repo, bytes);
    await res.arrayBuffer();
    if (res.status !== 201) return { status: res.status, digest: "" };
  }
  const descriptor = async (mediaType: string, bytes: Uint8Array) => ({ mediaType, digest: await sha256(bytes), size: bytes.byteLength });
  const manifest = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: await descriptor("application/vnd.oci.image.config.v1+json", config),
      layers: await Promise.all(layers.map((l) => descriptor("application/vnd.oci.image.layer.v1.tar", l))),
    }),
  );
  const res = await app.request(`/v2/${repo}/manifests/${tag}`, { method: "PUT", body: manifest, headers: { "Content-Type": MANIFEST } });
  await res.arrayBuffer();
  return { status: res.status, digest: await sha256(manifest) };
}

export async function pullsWhole(app: ReturnType<typeof createApp>, repo: string, tag: string): Promise<boolean> {
  const res = await app.request(`/v2/${repo}/manifests/${tag}`, { headers: { Accept: MANIFEST } });
  if (res.status !== 200) return false;
  const doc = JSON.parse(await res.text()) as { config: { digest: string }; layers: { digest: string }[] };
  for (const digest of [doc.config.digest, ...doc.layers.map((l) => l.digest)]) {
    const blob = await app.request(`/v2/${repo}/blobs/${digest}`);
    if (blob.status !== 200 || (await sha256(new Uint8Array(await blob.arrayBuffer()))) !== digest) return false;
  }
  return true;
}

export const random = (size: number) => crypto.getRandomValues(new Uint8Array(size));
export const text = (s: string) => new TextEncoder().encode(s);
