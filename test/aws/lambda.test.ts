/**
 * The Lambda entry point (src/runtime/lambda.ts) invoked in-process with
 * Function URL events (payload format 2.0), over S3 on Ceph RGW and
 * DynamoDB on dynalite. Pulls follow the 307 to RGW with fetch, as clients do.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { APIGatewayProxyResult } from "hono/aws-lambda";
import { createRegistryTable } from "../../src/adapters/dynamodb/table.ts";
import { generateSigningJwk } from "../../src/auth/keys.ts";
import { hashPassword } from "../../src/auth/passwords.ts";
import { createLambdaHandler, LAMBDA_MAX_REQUEST_BYTES } from "../../src/runtime/lambda.ts";
import { bodyOf, functionUrlEvent, headersOf, type InvokeOptions } from "./local/function-url.ts";
import { createBucket, deleteBucket, deleteTable, localAws, localDynamoDb, localS3, registryEnvOnLocalAws, uniqueName } from "./support.ts";

const sha256 = (data: Uint8Array) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

describe("Lambda handler (Function URL, payload 2.0) on S3 and DynamoDB", () => {
  const s3 = localS3();
  const dynamodb = localDynamoDb();
  const bucket = uniqueName("lambda");
  const table = uniqueName("lambda");
  let env: Record<string, string | undefined>;
  let handler: ReturnType<typeof createLambdaHandler>;

  beforeAll(async () => {
    await createBucket(s3, bucket);
    await createRegistryTable(dynamodb, table);
    env = registryEnvOnLocalAws(bucket, table);
    handler = createLambdaHandler(env);
  });
  afterAll(async () => {
    await deleteBucket(s3, bucket);
    await deleteTable(dynamodb, table);
  });

  async function invoke(method: string, target: string, options?: InvokeOptions): Promise<APIGatewayProxyResult> {
    return (await handler(functionUrlEvent(method, target, options))) as APIGatewayProxyResult;
  }

  async function pushInChunks(repository: string, data: Uint8Array, chunkSize: number): Promise<string> {
    const started = await invoke("POST", `/v2/${repository}/blobs/uploads/`);
    expect(started.statusCode).toBe(202);
    let location = headersOf(started).location!;
    for (let offset = 0; offset < data.byteLength; offset += chunkSize) {
      const chunk = data.subarray(offset, Math.min(offset + chunkSize, data.byteLength));
      const patched = await invoke("PATCH", location, {
        headers: { "content-type": "application/octet-stream", "content-range": `${offset}-${offset + chunk.byteLength - 1}` },
        body: chunk,
      });
      expect(patched.statusCode, patched.body).toBe(202);
      expect(headersOf(patched).range).toBe(`0-${offset + chunk.byteLength - 1}`);
      location = headersOf(patched).location!;
    }
    const digest = sha256(data);
    const finished = await invoke("PUT", `${location}${location.includes("?") ? "&" : "?"}digest=${digest}`);
    expect(finished.statusCode, finished.body).toBe(201);
    return digest;
  }

  /** The JSON lines the handler writes to stdout (where CloudWatch Logs reads them) while `run` runs. */
  async function jsonLinesWritten(run: () => Promise<void>): Promise<Record<string, unknown>[]> {
    const written: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      written.push(String(chunk));
      return (write as (chunk: string | Uint8Array, ...rest: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stdout.write;
    try {
      await run();
    } finally {
      process.stdout.write = write;
    }
    return written.join("").split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  it("answers /v2/ with 200 and the API version header", async () => {
    const result = await invoke("GET", "/v2/");
    expect(result.statusCode).toBe(200);
    expect(headersOf(result)["docker-distribution-api-version"]).toBe("registry/2.0");
  });

  it("answers /healthz and /readyz (S3 and DynamoDB reachable), and writes a JSON log line and a CloudWatch EMF line per request", async () => {
    const lines = await jsonLinesWritten(async () => {
      expect((await invoke("GET", "/healthz")).statusCode).toBe(200);
      const ready = await invoke("GET", "/readyz");
      expect(ready.statusCode, ready.body).toBe(200);
      expect(JSON.parse(ready.body)).toMatchObject({ status: "ok", checks: { blobs: { ok: true }, metadata: { ok: true } } });
    });
    expect(lines.find((line) => line.msg === "request" && line.route === "/readyz")).toMatchObject({ status: 200, method: "GET" });
    const emf = lines.find((line) => line._aws !== undefined && line.Route === "/readyz");
    expect(emf).toMatchObject({ Status: "200", Requests: 1, _aws: { CloudWatchMetrics: [{ Namespace: "OciRegistry" }] } });
  });

  it("writes a JSON audit line for a change (a blob DELETE, naming the caller's address and the digest)", async () => {
    const blob = new TextEncoder().encode("a blob the Lambda deletes");
    const digest = `sha256:${createHash("sha256").update(blob).digest("hex")}`;
    expect((await invoke("POST", `/v2/team/audited/blobs/uploads/?digest=${digest}`, { headers: { "content-type": "application/octet-stream" }, body: blob })).statusCode).toBe(201);
    const lines = await jsonLinesWritten(async () => {
      expect((await invoke("DELETE", `/v2/team/audited/blobs/${digest}`)).statusCode).toBe(202);
    });
    expect(lines.find((line) => line.msg === "audit")).toMatchObject({ action: "delete:blob", outcome: "ok", status: 202, repository: "team/audited", digest, identity: "anonymous", addr: expect.any(String) });
  });

  it("takes a 16 MB blob as 4 MB binary PATCHes (base64 in the events), re-chunked into S3 parts, and reports it on HEAD", async () => {
    const data = new Uint8Array(randomBytes(16_000_000));
    const digest = await pushInChunks("team/app", data, 4_000_000);
    const head = await invoke("HEAD", `/v2/team/app/blobs/${digest}`);
    expect(head.statusCode).toBe(200);
    expect(headersOf(head)["content-length"]).toBe(String(data.byteLength));
    expect(headersOf(head)["docker-content-digest"]).toBe(digest);
  });

  it("keeps every byte value intact through base64 in a monolithic POST ?digest=", async () => {
    const data = new Uint8Array(Array.from({ length: 4096 }, (_, i) => i % 256));
    const digest = sha256(data);
    const posted = await invoke("POST", `/v2/team/bytes/blobs/uploads/?digest=${digest}`, { headers: { "content-type": "application/octet-stream" }, body: data });
    expect(posted.statusCode, posted.body).toBe(201);
    const get = await invoke("GET", `/v2/team/bytes/blobs/${digest}`);
    expect(get.statusCode).toBe(307);
    expect(new Uint8Array(await (await fetch(headersOf(get).location!)).arrayBuffer())).toEqual(data);
  });

  it("pushes a manifest (a text body) and pulls the blob it names through a 307 to a presigned S3 URL", async () => {
    const layer = new Uint8Array(randomBytes(6_000_000));
    const config = new TextEncoder().encode(JSON.stringify({ architecture: "arm64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
    const layerDigest = await pushInChunks("team/pull", layer, 3_000_000);
    const configDigest = await pushInChunks("team/pull", config, 1_000);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.byteLength },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layerDigest, size: layer.byteLength }],
    });
    const put = await invoke("PUT", "/v2/team/pull/manifests/v1", { headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" }, body: manifest });
    expect(put.statusCode, put.body).toBe(201);

    const pulled = await invoke("GET", "/v2/team/pull/manifests/v1", { headers: { accept: "application/vnd.oci.image.manifest.v1+json" } });
    expect(pulled.statusCode).toBe(200);
    expect(pulled.isBase64Encoded).toBe(false);
    expect(new TextDecoder().decode(bodyOf(pulled))).toBe(manifest);

    const blob = await invoke("GET", `/v2/team/pull/blobs/${layerDigest}`);
    expect(blob.statusCode).toBe(307);
    expect(blob.body).toBe("");
    expect(headersOf(blob)["docker-content-digest"]).toBe(layerDigest);
    const location = headersOf(blob).location!;
    expect(location.startsWith(`${localAws().s3Endpoint}/${bucket}/`)).toBe(true);
    const fromS3 = await fetch(location);
    expect(fromS3.status).toBe(200);
    expect(sha256(new Uint8Array(await fromS3.arrayBuffer()))).toBe(layerDigest);
    const ranged = await fetch(location, { headers: { range: "bytes=1000-1999" } });
    expect(ranged.status).toBe(206);
    expect(new Uint8Array(await ranged.arrayBuffer())).toEqual(layer.subarray(1000, 2000));
  });

  it("serves the web interface: the catalog with size and push time, a repository page, and a whole-repository delete with its CSRF cookie", async () => {
    const config = new TextEncoder().encode(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
    const configDigest = await pushInChunks("team/web", config, 1_000);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.byteLength },
      layers: [],
    });
    const before = Math.floor(Date.now() / 1000) * 1000;
    expect((await invoke("PUT", "/v2/team/web/manifests/v1", { headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" }, body: manifest })).statusCode).toBe(201);

    const catalog = await invoke("GET", "/");
    expect(catalog.statusCode).toBe(200);
    expect(headersOf(catalog)["content-type"]).toMatch(/^text\/html/);
    expect(headersOf(catalog)["content-security-policy"]).toContain("default-src 'none'");
    const row = catalog.body.split("<tr>").find((part) => part.includes(">team/web</a>"))!;
    expect(row).toContain(`data-bytes="${config.byteLength + manifest.length}"`);
    expect(Date.parse(/<time datetime="([^"]+)">/.exec(row)![1]!)).toBeGreaterThanOrEqual(before);

    const repository = await invoke("GET", "/ui/r/team/web");
    expect(repository.statusCode).toBe(200);
    expect(repository.body).toContain("docker pull abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws/team/web:v1");
    expect(repository.body).toContain('href="/ui/r/team/web/-/delete-repository"');
    expect((await invoke("GET", "/ui/assets/style.css")).statusCode).toBe(200);

    // The CSRF cookie comes back in the result's `cookies` and goes in the next event's `cookies`.
    const confirm = await invoke("GET", "/ui/r/team/web/-/delete-repository");
    const cookies = ((confirm as { cookies?: string[] }).cookies ?? []).map((line) => line.split(";")[0]!);
    expect(cookies.length).toBeGreaterThan(0);
    const csrf = /name="csrf" value="([^"]+)"/.exec(confirm.body)![1]!;
    const form = { "content-type": "application/x-www-form-urlencoded" };
    expect((await invoke("POST", "/ui/r/team/web/-/delete-repository", { headers: form, body: `csrf=${csrf}` })).statusCode).toBe(403);
    const deleted = await invoke("POST", "/ui/r/team/web/-/delete-repository", { headers: form, body: `csrf=${csrf}`, cookies });
    expect(deleted.statusCode, deleted.body).toBe(200);
    expect(deleted.body).toContain("The repository team/web was deleted");
    expect((await invoke("GET", "/")).body).not.toContain(">team/web<");
    expect((await invoke("GET", "/v2/team/web/manifests/v1")).statusCode).toBe(404);
  });

  it("answers a PATCH larger than Lambda accepts with 413 naming the limit and how to push in chunks, and the upload stays usable", async () => {
    const started = await invoke("POST", "/v2/team/big/blobs/uploads/");
    const location = headersOf(started).location!;
    const tooBig = new Uint8Array(LAMBDA_MAX_REQUEST_BYTES + 1);
    const refused = await invoke("PATCH", location, { headers: { "content-type": "application/octet-stream", "content-range": `0-${tooBig.byteLength - 1}` }, body: tooBig });
    expect(refused.statusCode).toBe(413);
    const error = (JSON.parse(refused.body) as { errors: { code: string; message: string }[] }).errors[0]!;
    expect(error.code).toBe("SIZE_INVALID");
    expect(error.message).toContain(String(LAMBDA_MAX_REQUEST_BYTES));
    expect(error.message).toContain("PATCH");
    const small = new Uint8Array(randomBytes(1000));
    const patched = await invoke("PATCH", location, { headers: { "content-type": "application/octet-stream", "content-range": "0-999" }, body: small });
    expect(patched.statusCode).toBe(202);
  });

  it("runs upload expiry on a scheduled EventBridge event and leaves fresh uploads alone", async () => {
    const started = await invoke("POST", "/v2/team/fresh/blobs/uploads/");
    expect(await handler({ source: "aws.events", "detail-type": "Scheduled Event" })).toMatchObject({ expired: 0, collected: { blobsDeleted: 0, problems: [] } });
    expect((await invoke("GET", headersOf(started).location!)).statusCode).toBe(204);
  });

  it("answers 500 with an OCI error body while a setting is missing, and reads the settings again on the next invocation", async () => {
    const settings = { ...env, S3_BUCKET: undefined as string | undefined };
    const fixable = createLambdaHandler(settings);
    const result = (await fixable(functionUrlEvent("GET", "/v2/"))) as APIGatewayProxyResult;
    expect(result.statusCode).toBe(500);
    expect(result.headers?.["x-content-type-options"]).toBe("nosniff");
    expect((JSON.parse(result.body) as { errors: { code: string }[] }).errors[0]!.code).toBe("UNKNOWN");
    settings.S3_BUCKET = bucket;
    expect(((await fixable(functionUrlEvent("GET", "/v2/"))) as APIGatewayProxyResult).statusCode).toBe(200);
  });

  it("limits failed logins per name across Lambda instances, counted in DynamoDB, by the Function URL's sourceIp (issue 13, defect 7)", async () => {
    const AUTH_CONFIG = JSON.stringify({
      service: "registry.example",
      signingKeys: [{ jwk: await generateSigningJwk() }],
      users: { alice: { password: await hashPassword("alice-secret"), teams: ["blue"] } },
      loginFailuresPerName: 2,
    });
    // Two instances of the function: per-instance memory would count each separately.
    const [first, second] = [createLambdaHandler({ ...env, AUTH_CONFIG }), createLambdaHandler({ ...env, AUTH_CONFIG })];
    const login = (instance: typeof first, password: string, sourceIp: string) =>
      instance(functionUrlEvent("GET", "/token?service=registry.example", { sourceIp, headers: { authorization: `Basic ${Buffer.from(`alice:${password}`).toString("base64")}` } })) as Promise<APIGatewayProxyResult>;
    expect((await login(first, "guess", "203.0.113.5")).statusCode).toBe(401);
    expect((await login(second, "guess", "203.0.113.5")).statusCode).toBe(401);
    const refused = await login(first, "alice-secret", "203.0.113.5");
    expect(refused.statusCode).toBe(429);
    expect(Number(headersOf(refused)["retry-after"])).toBeGreaterThan(0);
    expect(JSON.parse(refused.body).errors[0].code).toBe("TOOMANYREQUESTS");
    expect((await login(second, "alice-secret", "198.51.100.7")).statusCode).toBe(200);
  });

  describe("with UPLOAD_URL: the split deployment hands upload sessions to the Node runtime (docs/aws.md)", () => {
    const uploadUrl = "https://uploads.registry.example";
    let split: ReturnType<typeof createLambdaHandler>;
    beforeAll(() => {
      split = createLambdaHandler({ ...env, UPLOAD_URL: uploadUrl });
    });
    const invokeSplit = async (method: string, target: string, options?: InvokeOptions) => (await split(functionUrlEvent(method, target, options))) as APIGatewayProxyResult;

    it("answers the upload POST with 202 and an absolute Location on the upload server, for a session both see", async () => {
      const started = await invokeSplit("POST", "/v2/team/split/blobs/uploads/");
      expect(started.statusCode).toBe(202);
      const location = headersOf(started).location!;
      expect(location).toMatch(new RegExp(`^${uploadUrl}/v2/team/split/blobs/uploads/[^/?]+$`));
      expect(headersOf(started).range).toBe("0-0");
      // The session is in DynamoDB: the function itself (any instance) reports it too.
      const status = await invokeSplit("GET", new URL(location).pathname);
      expect(status.statusCode).toBe(204);
      expect(headersOf(status)["docker-upload-uuid"]).toBe(headersOf(started)["docker-upload-uuid"]);
    });

    it("hands over a mount that does not mount, with and without from", async () => {
      for (const query of [`mount=sha256:${"0".repeat(64)}&from=team/elsewhere`, `mount=sha256:${"0".repeat(64)}`]) {
        const result = await invokeSplit("POST", `/v2/team/split/blobs/uploads/?${query}`);
        expect(result.statusCode, query).toBe(202);
        expect(headersOf(result).location, query).toMatch(new RegExp(`^${uploadUrl}/v2/team/split/blobs/uploads/`));
      }
    });

    it("still mounts a blob the repository may read (201, nothing handed over)", async () => {
      const data = new Uint8Array(randomBytes(2000));
      const digest = await pushInChunks("team/split-source", data, 2000);
      const mounted = await invokeSplit("POST", `/v2/team/split/blobs/uploads/?mount=${digest}&from=team/split-source`);
      expect(mounted.statusCode).toBe(201);
      expect(headersOf(mounted).location).toBe(`/v2/team/split/blobs/${digest}`);
    });

    it("takes a single POST it can hold (201 here), and answers one over its limit with 202 on the upload server (spec § Single POST), starting a session of the digest's algorithm", async () => {
      const small = new Uint8Array(randomBytes(3000));
      const created = await invokeSplit("POST", `/v2/team/split/blobs/uploads/?digest=${sha256(small)}`, { headers: { "content-type": "application/octet-stream", "content-length": String(small.byteLength) }, body: small });
      expect(created.statusCode, created.body).toBe(201);
      expect((await invokeSplit("HEAD", `/v2/team/split/blobs/${sha256(small)}`)).statusCode).toBe(200);

      const large = new Uint8Array(randomBytes(LAMBDA_MAX_REQUEST_BYTES + 1));
      const digest = `sha512:${createHash("sha512").update(large).digest("hex")}`;
      const handed = await invokeSplit("POST", `/v2/team/split/blobs/uploads/?digest=${digest}`, { headers: { "content-type": "application/octet-stream", "content-length": String(large.byteLength) }, body: large });
      expect(handed.statusCode, handed.body).toBe(202);
      const location = headersOf(handed).location!;
      expect(location.startsWith(`${uploadUrl}/v2/team/split/blobs/uploads/`)).toBe(true);
      // Nothing of the body was kept: the blob is unknown until the client PUTs it on the upload server.
      expect((await invokeSplit("HEAD", `/v2/team/split/blobs/${digest}`)).statusCode).toBe(404);
      expect((await invokeSplit("GET", new URL(location).pathname)).statusCode).toBe(204);
      // Closing the session with the same bytes (here through the function, in 4 MB chunks) makes the blob.
      let offset = 0;
      for (; offset + 4_000_000 < large.byteLength; offset += 4_000_000) {
        const chunk = large.subarray(offset, offset + 4_000_000);
        const patched = await invokeSplit("PATCH", new URL(location).pathname, { headers: { "content-type": "application/octet-stream", "content-range": `${offset}-${offset + chunk.byteLength - 1}` }, body: chunk });
        expect(patched.statusCode, patched.body).toBe(202);
      }
      const rest = large.subarray(offset);
      const closed = await invokeSplit("PUT", `${new URL(location).pathname}?digest=${digest}`, { headers: { "content-type": "application/octet-stream", "content-range": `${offset}-${large.byteLength - 1}` }, body: rest });
      expect(closed.statusCode, closed.body).toBe(201);
    });
  });

  describe("auth configuration from Secrets Manager (the Parameters and Secrets extension)", () => {
    let extension: Server;
    let port: number;
    const requests: { secretId: string | null; token: string | undefined }[] = [];
    let secret: string;

    beforeAll(async () => {
      extension = createServer((request, response) => {
        const url = new URL(request.url ?? "/", "http://localhost");
        requests.push({ secretId: url.searchParams.get("secretId"), token: request.headers["x-aws-parameters-secrets-token"] as string | undefined });
        response.setHeader("content-type", "application/json");
        response.end(JSON.stringify({ ARN: url.searchParams.get("secretId"), SecretString: secret }));
      });
      await new Promise<void>((resolve) => extension.listen(0, "127.0.0.1", resolve));
      port = (extension.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((resolve) => extension.close(() => resolve())));

    it("reads the secret AUTH_CONFIG_SECRET_ARN names with the session token, and then demands a token on /v2/", async () => {
      secret = JSON.stringify({ service: "registry.example", issuer: "registry.example", signingKeys: [{ jwk: await generateSigningJwk() }] });
      const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:registry-auth-AbCdEf";
      const withAuth = createLambdaHandler({ ...env, AUTH_CONFIG_SECRET_ARN: arn, PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String(port), AWS_SESSION_TOKEN: "session-token" });
      const result = (await withAuth(functionUrlEvent("GET", "/v2/"))) as APIGatewayProxyResult;
      expect(requests).toEqual([{ secretId: arn, token: "session-token" }]);
      expect(result.statusCode).toBe(401);
      expect(headersOf(result)["www-authenticate"]).toMatch(/^Bearer realm="[^"]+",service="registry\.example"/);
    });

    it("reads the mirrors from the secret MIRRORS_SECRET_ARN names (the CDK stack's Mirrors): a mirror namespace is read-only", async () => {
      secret = JSON.stringify([{ namespace: "hub", url: "http://127.0.0.1:9", username: "me", password: "upstream-secret" }]);
      const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:registry-mirrors-AbCdEf";
      requests.length = 0;
      const withMirrors = createLambdaHandler({ ...env, MIRRORS_SECRET_ARN: arn, PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String(port), AWS_SESSION_TOKEN: "session-token" });
      const push = (await withMirrors(functionUrlEvent("POST", "/v2/hub/team/app/blobs/uploads/"))) as APIGatewayProxyResult;
      expect(requests).toEqual([{ secretId: arn, token: "session-token" }]);
      expect(push.statusCode).toBe(403);
      expect(JSON.parse(push.body).errors[0].message).toContain("read-only");
      expect(push.body).not.toContain("upstream-secret");
      const elsewhere = (await withMirrors(functionUrlEvent("POST", "/v2/team/app/blobs/uploads/"))) as APIGatewayProxyResult;
      expect(elsewhere.statusCode).toBe(202);
    });

    it("refuses to serve (500), rather than serve openly, while the secret still holds the CDK stack's placeholder", async () => {
      secret = JSON.stringify({ replaceMe: "put the registry's auth configuration here (docs/aws.md)" });
      const placeholder = createLambdaHandler({ ...env, AUTH_CONFIG_SECRET_ARN: "arn:placeholder", PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String(port) });
      const result = (await placeholder(functionUrlEvent("GET", "/v2/"))) as APIGatewayProxyResult;
      expect(result.statusCode).toBe(500);
    });
  });
});
