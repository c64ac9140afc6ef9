/**
 * HTTPS on Node (tlsCert/tlsKey) against the real server process: certificates made here
 * with openssl, curl and skopeo verifying the server against that CA, and a new
 * certificate (from another CA) served after SIGHUP by the same process, no restart.
 *
 *   npx vitest run test/process/tls.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, mkdir, readFile, rm, writeFile, copyFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request, type RegistryProcess, sleep, startRegistry } from "./server.ts";

/** A CA and a server certificate for 127.0.0.1 signed by it, under `dir/<name>-*.pem`. */
function makeCertificates(dir: string, name: string): { ca: string; cert: string; key: string } {
  const ca = join(dir, `${name}-ca.pem`);
  const caKey = join(dir, `${name}-ca-key.pem`);
  const cert = join(dir, `${name}-cert.pem`);
  const key = join(dir, `${name}-key.pem`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", caKey, "-out", ca, "-days", "2", "-subj", `/CN=${name} test CA`);
  openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1");
  execFileSync("sh", ["-c", `printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > '${ext}'`]);
  openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext);
  return { ca, cert, key };
}

function curl(url: string, ca: string): { code: number; out: string } {
  const run = spawnSync("curl", ["-sS", "--max-time", "10", "--cacert", ca, "-o", "/dev/null", "-w", "%{http_code}", url], { encoding: "utf8" });
  return { code: run.status ?? -1, out: `${run.stdout}${run.stderr}` };
}


describe.each([1, 2])("HTTPS with tlsCert and tlsKey (PROCESSES=%i)", (processes) => {
  let dir = "";
  let live = { cert: "", key: "" };
  let first: ReturnType<typeof makeCertificates>;
  let registry: RegistryProcess;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "registry-tls-"));
    first = makeCertificates(dir, `first-${processes}`);
    live = { cert: join(dir, "live-cert.pem"), key: join(dir, "live-key.pem") };
    await copyFile(first.cert, live.cert);
    await copyFile(first.key, live.key);
    registry = await startRegistry({
      dataDir: join(dir, "data"),
      processes,
      tlsCa: await readFile(first.ca, "utf8"),
      env: { TLS_CERT: live.cert, TLS_KEY: live.key, LOG_FORMAT: "json", GC_INTERVAL_SECONDS: "0" },
    });
  }, 60_000);

  afterAll(async () => {
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("serves HTTPS that curl verifies against the CA, and nothing to a client that does not trust it", () => {
    expect(registry.url.startsWith("https://")).toBe(true);
    expect(curl(`${registry.url}/v2/`, first.ca)).toEqual({ code: 0, out: "200" });
    const other = makeCertificates(dir, `stranger-${processes}`);
    expect(curl(`${registry.url}/v2/`, other.ca).code).not.toBe(0);
  });

  it("is healthy to the container's HEALTHCHECK (bin/healthcheck.mjs), which falls back to HTTPS", () => {
    const port = new URL(registry.url).port;
    const check = spawnSync(process.execPath, ["bin/healthcheck.mjs"], { encoding: "utf8", env: { ...process.env, PORT: port }, timeout: 20_000 });
    expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);
    expect(check.stdout).toContain(`healthy: https://127.0.0.1:${port}/healthz answered 200`);
  });

  it("lets skopeo push and pull over HTTPS with the CA in --cert-dir, TLS verification on", async () => {
    const certDir = join(dir, "certs.d");
    await mkdir(certDir, { recursive: true });
    await copyFile(first.ca, join(certDir, "ca.crt"));
    const layout = join(dir, "image");
    await mkdir(join(layout, "blobs", "sha256"), { recursive: true });
    const { createHash } = await import("node:crypto");
    const put = async (bytes: Buffer) => {
      const hex = createHash("sha256").update(bytes).digest("hex");
      await writeFile(join(layout, "blobs", "sha256", hex), bytes);
      return { digest: `sha256:${hex}`, size: bytes.length };
    };
    const config = await put(Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } })));
    const manifest = await put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config }, layers: [] })));
    await writeFile(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    await writeFile(join(layout, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifest, annotations: { "org.opencontainers.image.ref.name": "v1" } }] }));
    const host = new URL(registry.url).host;
    const push = spawnSync("skopeo", ["copy", "--dest-cert-dir", certDir, `oci:${layout}:v1`, `docker://${host}/tls/app:v1`], { encoding: "utf8", timeout: 60_000 });
    expect(push.status, push.stderr).toBe(0);
    const inspect = spawnSync("skopeo", ["inspect", "--raw", "--cert-dir", certDir, `docker://${host}/tls/app:v1`], { encoding: "utf8", timeout: 60_000 });
    expect(inspect.status, inspect.stderr).toBe(0);
    expect(JSON.parse(inspect.stdout).config.digest).toBe(config.digest);
    // Without the CA, skopeo refuses the server: verification is really on.
    const untrusted = spawnSync("skopeo", ["inspect", "--raw", `docker://${host}/tls/app:v1`], { encoding: "utf8", timeout: 60_000 });
    expect(untrusted.status).not.toBe(0);
    expect(untrusted.stderr).toMatch(/certificate/);
  });

  it("serves a new certificate after SIGHUP without a restart, and keeps the old one when the new files are bad", async () => {
    const pidsBefore = registry.processIds();
    const second = makeCertificates(dir, `second-${processes}`);
    // A key that does not match the certificate: refused, the first certificate stays.
    await copyFile(second.cert, live.cert);
    const before = registry.output().length;
    process.kill(registry.pid, "SIGHUP");
    for (let i = 0; i < 100 && !registry.output().slice(before).includes("reload refused"); i++) await sleep(50);
    expect(registry.output().slice(before)).toMatch(/reload refused.*tlsCert/);
    expect(curl(`${registry.url}/v2/`, first.ca)).toEqual({ code: 0, out: "200" });

    await copyFile(second.key, live.key);
    process.kill(registry.pid, "SIGHUP");
    // Fresh connections reach every process: several successes in a row mean each one reloaded.
    const allServeSecond = () => Array.from({ length: 2 * processes + 2 }, () => curl(`${registry.url}/v2/`, second.ca).code).every((code) => code === 0);
    let seen = allServeSecond();
    for (let i = 0; i < 100 && !seen; i++) {
      await sleep(50);
      seen = allServeSecond();
    }
    expect(seen).toBe(true);
    expect(curl(`${registry.url}/v2/`, first.ca).code).not.toBe(0);
    expect(registry.processIds()).toEqual(pidsBefore);
    const https = await request(registry.url, "GET", "/healthz", { ca: await readFile(second.ca, "utf8") });
    expect(https.status).toBe(200);
  });
});
