import { describe, expect, it } from "vitest";
import { parseTransport, TransportError } from "../../src/copy/transports.ts";
import { chunkLength } from "../../src/copy/upload.ts";

describe("copy: skopeo's transport syntax (containers-transports(5))", () => {
  it("reads oci:DIR with and without a tag, the path ending at the first colon", () => {
    expect(parseTransport("oci:./my-image:latest")).toEqual({ kind: "oci", dir: "./my-image", tag: "latest" });
    expect(parseTransport("oci:/tmp/layout")).toEqual({ kind: "oci", dir: "/tmp/layout", tag: undefined });
    expect(parseTransport("oci-archive:img.tar:v1")).toEqual({ kind: "oci-archive", file: "img.tar", tag: "v1" });
  });

  it("reads docker-archive:FILE with an optional NAME:TAG or @N", () => {
    expect(parseTransport("docker-archive:app.tar")).toEqual({ kind: "docker-archive", file: "app.tar", select: undefined });
    expect(parseTransport("docker-archive:app.tar:team/app:v1")).toEqual({ kind: "docker-archive", file: "app.tar", select: { name: "team/app:v1" } });
    expect(parseTransport("docker-archive:app.tar:@1")).toEqual({ kind: "docker-archive", file: "app.tar", select: { index: 1 } });
    expect(() => parseTransport("docker-archive:app.tar:nocolon")).toThrow(TransportError);
  });

  it("reads docker://HOST[:PORT]/NAME with a tag, a digest, or latest by default", () => {
    const digest = `sha256:${"a".repeat(64)}`;
    expect(parseTransport("docker://127.0.0.1:8787/team/app:v1")).toEqual({
      kind: "docker",
      reference: { host: "127.0.0.1:8787", apiHost: "127.0.0.1:8787", repository: "team/app", tag: "v1", digest: undefined },
    });
    expect(parseTransport(`docker://registry.example.com/team/app@${digest}`)).toMatchObject({ reference: { repository: "team/app", tag: undefined, digest } });
    expect(parseTransport("docker://localhost/app")).toMatchObject({ reference: { host: "localhost", repository: "app", tag: "latest" } });
  });

  it("maps Docker Hub names as docker does: no host, one segment gets library/, the API is registry-1.docker.io", () => {
    expect(parseTransport("docker://alpine:3")).toMatchObject({ reference: { host: "docker.io", apiHost: "registry-1.docker.io", repository: "library/alpine", tag: "3" } });
    expect(parseTransport("docker://docker.io/grafana/grafana")).toMatchObject({ reference: { host: "docker.io", repository: "grafana/grafana", tag: "latest" } });
  });

  it("refuses what is not a reference, naming the problem", () => {
    expect(() => parseTransport("./my-image")).toThrow(/names no transport/);
    expect(() => parseTransport("dir:./x")).toThrow(/unknown transport "dir"/);
    expect(() => parseTransport("docker:host/app")).toThrow(/docker:\/\/HOST/);
    expect(() => parseTransport("docker://host.example/Team/App")).toThrow(/not a repository name/);
    expect(() => parseTransport("docker://host.example/app:bad/tag")).toThrow(TransportError);
    expect(() => parseTransport("docker://host.example/app@sha256")).toThrow(/not a digest/);
    expect(() => parseTransport("oci:")).toThrow(/names no path/);
  });
});

describe("copy: chunk length from OCI-Chunk-Min-Length and OCI-Chunk-Max-Length", () => {
  const MiB = 1024 * 1024;
  it("sends the largest whole number of minimum chunks under the maximum", () => {
    expect(chunkLength({ minChunk: 8 * MiB, maxChunk: 100_000_000 }, undefined)).toBe(11 * 8 * MiB);
  });
  it("sends the maximum when the minimum does not fit under it, and keeps to the user's own limit", () => {
    expect(chunkLength({ minChunk: 8 * MiB, maxChunk: 4_500_000 }, undefined)).toBe(4_500_000);
    expect(chunkLength({ minChunk: 8 * MiB, maxChunk: 100_000_000 }, 20 * MiB)).toBe(16 * MiB);
    expect(chunkLength({ minChunk: undefined, maxChunk: 100_000_000 }, undefined)).toBe(100_000_000);
  });
  it("sends a blob in one request where the registry states no maximum", () => {
    expect(chunkLength({ minChunk: 8 * MiB, maxChunk: undefined }, undefined)).toBe(Math.floor(Number.MAX_SAFE_INTEGER / (8 * MiB)) * 8 * MiB);
  });
});
