import { describe, expect, it } from "vitest";
import { ConfigError, resolveConfig } from "../../src/config/schema.ts";

function problemsOf(file: Record<string, unknown>, env: Record<string, string>): string {
  try {
    resolveConfig(file, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("configuration: the AWS backend (docs/aws.md)", () => {
  it("defaults to the filesystem backend with redirects off", () => {
    expect(resolveConfig({}, {})).toMatchObject({ backend: "filesystem", blobRedirects: false, blobRedirectTtlSeconds: 300 });
  });

  it("reads the S3 and DynamoDB settings from the environment", () => {
    const config = resolveConfig({}, {
      BACKEND: "aws",
      S3_BUCKET: "layers",
      S3_ENDPOINT: "http://127.0.0.1:7480",
      S3_FORCE_PATH_STYLE: "true",
      DYNAMODB_TABLE: "registry",
      DYNAMODB_ENDPOINT: "http://127.0.0.1:4567",
      BLOB_REDIRECTS: "1",
      BLOB_REDIRECT_TTL_SECONDS: "60",
    });
    expect(config).toMatchObject({
      backend: "aws",
      s3Bucket: "layers",
      s3Endpoint: "http://127.0.0.1:7480",
      s3ForcePathStyle: true,
      dynamodbTable: "registry",
      dynamodbEndpoint: "http://127.0.0.1:4567",
      blobRedirects: true,
      blobRedirectTtlSeconds: 60,
    });
  });

  it("needs a bucket and a table with backend aws, and says which variables to set", () => {
    const message = problemsOf({ backend: "aws" }, {});
    expect(message).toContain('s3Bucket (env S3_BUCKET or the config file) is required with backend "aws"');
    expect(message).toContain('dynamodbTable (env DYNAMODB_TABLE or the config file) is required with backend "aws"');
  });

  it("refuses an unknown backend, endpoints that are not URLs, redirects without S3, and TTLs past SigV4's 7 days", () => {
    expect(problemsOf({ backend: "s3" }, {})).toContain('backend (config file) must be "filesystem" or "aws"');
    expect(problemsOf({}, { S3_ENDPOINT: "127.0.0.1:7480" })).toContain("s3Endpoint (env S3_ENDPOINT) must be an http(s) URL");
    expect(problemsOf({}, { BLOB_REDIRECTS: "true" })).toContain('blobRedirects (env BLOB_REDIRECTS) needs backend "aws"');
    expect(problemsOf({}, { BLOB_REDIRECT_TTL_SECONDS: String(8 * 24 * 3600) })).toContain("blobRedirectTtlSeconds");
  });
});
