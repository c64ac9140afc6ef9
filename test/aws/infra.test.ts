/**
 * The CDK stack (infra/registry-stack.ts), synthesised offline from the real
 * Lambda bundle, checked with aws-cdk-lib/assertions; and the bundle itself.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Match, Template } from "aws-cdk-lib/assertions";
import type { APIGatewayProxyResult } from "hono/aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildRegistryApp } from "../../infra/app.ts";
import { bundleLambda } from "../../infra/bundle.ts";
import { functionUrlEvent } from "./local/function-url.ts";

describe("infra: the AWS CDK stack", () => {
  let bundleDir: string;
  let outdir: string;
  let template: Template;
  let ids: { bucket: string; table: string; secret: string; mirrors: string; fn: string; logs: string };

  beforeAll(async () => {
    bundleDir = await mkdtemp(join(tmpdir(), "registry-lambda-bundle-"));
    outdir = await mkdtemp(join(tmpdir(), "registry-cdk-out-"));
    await bundleLambda(bundleDir);
    const { stack } = buildRegistryApp({ lambdaBundleDir: bundleDir, outdir });
    template = Template.fromStack(stack);
    const only = (type: string) => {
      const found = Object.keys(template.findResources(type));
      expect(found, type).toHaveLength(1);
      return found[0]!;
    };
    const secrets = Object.keys(template.findResources("AWS::SecretsManager::Secret"));
    expect(secrets).toHaveLength(2);
    const secretNamed = (prefix: string) => secrets.find((id) => id.startsWith(prefix))!;
    ids = {
      bucket: only("AWS::S3::Bucket"),
      table: only("AWS::DynamoDB::Table"),
      secret: secretNamed("AuthConfig"),
      mirrors: secretNamed("Mirrors"),
      fn: only("AWS::Lambda::Function"),
      logs: only("AWS::Logs::LogGroup"),
    };
  });
  afterAll(async () => {
    await rm(bundleDir, { recursive: true, force: true });
    await rm(outdir, { recursive: true, force: true });
  });

  it("keeps blobs in an S3 bucket with public access blocked, encryption, TLS only, and kept when the stack goes", () => {
    template.hasResource("AWS::S3::Bucket", {
      DeletionPolicy: "Retain",
      Properties: {
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] },
      },
    });
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      Bucket: { Ref: ids.bucket },
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: "Deny", Action: "s3:*", Condition: { Bool: { "aws:SecureTransport": "false" } } })]),
      },
    });
  });

  it("has S3 abort incomplete multipart uploads after 7 days and drop upload tails left behind", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 }, Status: "Enabled" }),
          Match.objectLike({ Prefix: "uploads/", ExpirationInDays: 2, Status: "Enabled" }),
        ]),
      },
    });
  });

  it("keeps metadata in an on-demand DynamoDB table with point-in-time recovery, the adapter's keys and its uploads-by-age index", () => {
    template.hasResource("AWS::DynamoDB::Table", {
      DeletionPolicy: "Retain",
      Properties: {
        BillingMode: "PAY_PER_REQUEST",
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        KeySchema: [
          { AttributeName: "pk", KeyType: "HASH" },
          { AttributeName: "sk", KeyType: "RANGE" },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: "uploads-by-age",
            KeySchema: [
              { AttributeName: "uploadIndex", KeyType: "HASH" },
              { AttributeName: "createdAt", KeyType: "RANGE" },
            ],
            Projection: { ProjectionType: "KEYS_ONLY" },
          },
        ],
      },
    });
  });

  it("runs the bundled handler on Node 22 or later, arm64, told where its bucket, table and auth secret are", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      Runtime: Match.stringLikeRegexp("^nodejs(2[2-9]|[3-9][0-9])\\.x$"),
      Architectures: ["arm64"],
      Handler: "index.handler",
      Environment: {
        Variables: Match.objectLike({
          S3_BUCKET: { Ref: ids.bucket },
          DYNAMODB_TABLE: { Ref: ids.table },
          AUTH_CONFIG_SECRET_ARN: { Ref: ids.secret },
          MIRRORS_SECRET_ARN: { Ref: ids.mirrors },
          PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: "2773",
        }),
      },
      Layers: [Match.objectLike({ "Fn::FindInMap": Match.arrayWith([Match.stringLikeRegexp("arm64")]) })],
      LoggingConfig: { LogGroup: { Ref: ids.logs } },
    });
  });

  it("keeps the function's logs for a month", () => {
    template.hasResourceProperties("AWS::Logs::LogGroup", { RetentionInDays: 30 });
  });

  it("exposes the function through a Function URL without IAM auth (the registry authenticates its callers), buffered", () => {
    template.hasResourceProperties("AWS::Lambda::Url", {
      AuthType: "NONE",
      InvokeMode: "BUFFERED",
      TargetFunctionArn: { "Fn::GetAtt": [ids.fn, "Arn"] },
    });
    template.hasResourceProperties("AWS::Lambda::Permission", { Action: "lambda:InvokeFunctionUrl", Principal: "*", FunctionUrlAuthType: "NONE" });
    template.hasOutput("RegistryUrl", { Value: { "Fn::GetAtt": [Match.anyValue(), "FunctionUrl"] } });
  });

  it("lets the function use the bucket (multipart included), the table and its index, and read the auth secret, nothing more", () => {
    const statements = Object.values(template.findResources("AWS::IAM::Policy")).flatMap(
      (policy) => (policy as { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } } }).Properties.PolicyDocument.Statement,
    );
    const actions = statements.flatMap((statement) => [statement.Action].flat());
    for (const action of ["s3:PutObject", "s3:GetObject*", "s3:DeleteObject*", "s3:Abort*", "s3:List*", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:BatchGetItem", "secretsmanager:GetSecretValue"]) {
      expect(actions).toContain(action);
    }
    expect(actions.filter((action) => action.endsWith(":*") || action === "*")).toEqual([]);
    expect(JSON.stringify(statements)).toContain(`"${ids.table}","Arn"]},"/index/*"`);
  });

  it("holds the auth configuration in a Secrets Manager secret whose placeholder is not a valid configuration", () => {
    const secret = template.findResources("AWS::SecretsManager::Secret")[ids.secret] as { Properties: { SecretString: string } };
    expect(JSON.parse(secret.Properties.SecretString)).not.toHaveProperty("signingKeys");
    template.hasOutput("AuthConfigSecretArn", { Value: { Ref: ids.secret } });
  });

  it("holds the pull-through mirrors, upstream credentials included, in a secret the function reads, not in its environment; none until set", () => {
    const secret = template.findResources("AWS::SecretsManager::Secret")[ids.mirrors] as { Properties: { SecretString: string } };
    expect(JSON.parse(secret.Properties.SecretString)).toEqual([]);
    template.hasOutput("MirrorsSecretArn", { Value: { Ref: ids.mirrors } });
    const fn = template.findResources("AWS::Lambda::Function")[ids.fn] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
    expect(fn.Properties.Environment.Variables).not.toHaveProperty("MIRRORS");
    const reads = Object.values(template.findResources("AWS::IAM::Policy")).flatMap(
      (policy) => (policy as { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } } }).Properties.PolicyDocument.Statement,
    ).filter((statement) => [statement.Action].flat().includes("secretsmanager:GetSecretValue"));
    expect(JSON.stringify(reads)).toContain(`{"Ref":"${ids.mirrors}"}`);
  });

  it("invokes the function hourly to expire abandoned uploads", () => {
    template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(1 hour)",
      Targets: [Match.objectLike({ Arn: { "Fn::GetAtt": [ids.fn, "Arn"] } })],
    });
  });

  it("has an encrypted SQS queue for events, consumed by the function with partial batch failures, and tells the function its URL", () => {
    const queues = Object.keys(template.findResources("AWS::SQS::Queue"));
    expect(queues).toHaveLength(1);
    template.hasResourceProperties("AWS::SQS::Queue", { VisibilityTimeout: 720, MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: { "Fn::GetAtt": [queues[0], "Arn"] },
      FunctionName: { Ref: ids.fn },
      BatchSize: 10,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
    template.hasResourceProperties("AWS::Lambda::Function", { Environment: { Variables: Match.objectLike({ EVENTS_QUEUE_URL: { Ref: queues[0] } }) } });
    const actions = Object.values(template.findResources("AWS::IAM::Policy")).flatMap((policy) =>
      (policy as { Properties: { PolicyDocument: { Statement: { Action: string | string[] }[] } } }).Properties.PolicyDocument.Statement.flatMap((s) => [s.Action].flat()),
    );
    for (const action of ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]) expect(actions).toContain(action);
  });

  it("bundles a handler that answers a Function URL event", async () => {
    const bundled = (await import(pathToFileURL(join(bundleDir, "index.mjs")).href)) as {
      createLambdaHandler: (env: Record<string, string>) => (event: unknown) => Promise<APIGatewayProxyResult>;
    };
    const handler = bundled.createLambdaHandler({ S3_BUCKET: "bucket", DYNAMODB_TABLE: "table", AWS_REGION: "us-east-1" });
    const result = await handler(functionUrlEvent("GET", "/v2/"));
    expect(result.statusCode).toBe(200);
    expect(result.headers?.["docker-distribution-api-version"]).toBe("registry/2.0");
  });
});
