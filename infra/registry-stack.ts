/**
 * The registry on AWS: blobs in S3, metadata in DynamoDB, the Hono app in a
 * Lambda behind a Function URL (docs/aws.md). The registry authenticates its
 * callers itself (token auth, configured in the AuthConfig secret), so the
 * URL has no IAM auth; until that secret holds a valid configuration the
 * function answers every request with 500, never as an open registry.
 */
import { CfnOutput, Duration, Fn, RemovalPolicy, SecretValue, Stack, type StackProps } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import type { Construct } from "constructs";
import { TABLE_SCHEMA } from "../src/adapters/dynamodb/table.ts";
import { AUTH_TTL_ATTRIBUTE } from "../src/adapters/dynamodb/auth-state.ts";
import { UploadService, type UploadServiceOptions } from "./upload-service.ts";

export interface RegistryStackProps extends StackProps {
  /** Directory holding the bundled function (`npm run bundle:lambda` writes dist/lambda). */
  lambdaBundleDir: string;
  /** S3 aborts multipart uploads left incomplete this long (the registry's own expiry normally comes first). */
  abortIncompleteUploadsAfterDays?: number;
  /** Uploads untouched this long are aborted by the hourly expiry run. */
  uploadTtlSeconds?: number;
  /** Lifetime of the presigned URLs blob GETs redirect to. */
  blobRedirectTtlSeconds?: number;
  logRetention?: logs.RetentionDays;
  /** Memory (and with it CPU) of the function. */
  memoryMiB?: number;
  /**
   * The split deployment (infra/upload-service.ts): the Node runtime on Fargate takes uploads,
   * and the function hands them there (UPLOAD_URL). Without it, pushes through the function
   * are limited to 4.5 MB per request.
   */
  uploadService?: UploadServiceOptions & { repositoryRoot: string };
  /** NOTIFICATIONS (README "Events and audit") as JSON: webhook endpoints; prefer `secretEnv` names over secrets inline. */
  notifications?: string;
}

export class RegistryStack extends Stack {
  readonly events: sqs.Queue;
  readonly bucket: s3.Bucket;
  readonly table: dynamodb.Table;
  readonly function: lambda.Function;
  readonly authConfig: secretsmanager.Secret;
  readonly mirrors: secretsmanager.Secret;
  readonly uploads?: UploadService;

  /**
   * The first two zones of the region, chosen at deploy time (Fn::GetAZs). A stack pinned to an
   * account would otherwise look them up while synthesising, which `npm run synth` does offline.
   */
  override get availabilityZones(): string[] {
    return [0, 1].map((index) => Fn.select(index, Fn.getAzs()));
  }

  constructor(scope: Construct, id: string, props: RegistryStackProps) {
    super(scope, id, props);
    const uploadTtlSeconds = props.uploadTtlSeconds ?? 24 * 60 * 60;

    // Registry content is the product: both stores outlive the stack.
    this.bucket = new s3.Bucket(this, "Blobs", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { id: "abort-incomplete-multipart-uploads", abortIncompleteMultipartUploadAfter: Duration.days(props.abortIncompleteUploadsAfterDays ?? 7) },
        // Upload tails (core/storage-layout.ts) outlive their upload only if expiry failed.
        { id: "expire-stale-upload-tails", prefix: "uploads/", expiration: Duration.days(Math.max(2, Math.ceil((2 * uploadTtlSeconds) / 86_400))) },
      ],
    });

    const { partitionKey, sortKey, uploadsByAge } = TABLE_SCHEMA;
    this.table = new dynamodb.Table(this, "Metadata", {
      partitionKey: { name: partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
      // Only the auth state's items carry it (failed-login counts, used refresh tokens).
      timeToLiveAttribute: AUTH_TTL_ATTRIBUTE,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: uploadsByAge.indexName,
      partitionKey: { name: uploadsByAge.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: uploadsByAge.sortKey, type: dynamodb.AttributeType.NUMBER },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });

    // The auth section (docs/auth.md), signing keys included. Deployed with a placeholder that is
    // not a valid configuration, so the registry refuses to serve until an operator puts one in.
    this.authConfig = new secretsmanager.Secret(this, "AuthConfig", {
      description: "OCI registry auth configuration (JSON, docs/auth.md): signing keys, users, robots, policy",
      secretStringValue: SecretValue.unsafePlainText(JSON.stringify({ replaceMe: "put the registry's auth configuration here (docs/aws.md)" })),
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Pull-through mirrors (README "Pull-through cache"): the MIRRORS setting, credentials included,
    // kept out of the template and the function's environment. Deployed as "[]": no mirrors.
    this.mirrors = new secretsmanager.Secret(this, "Mirrors", {
      description: "OCI registry pull-through mirrors (the MIRRORS setting, JSON; README \"Pull-through cache\"), upstream credentials included",
      secretStringValue: SecretValue.unsafePlainText("[]"),
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const logGroup = new logs.LogGroup(this, "Logs", {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // Events wait here until this function's SQS trigger delivers them (observability/events/sqs-consumer.ts).
    // Visibility: six times the function's timeout, as AWS advises for an SQS trigger.
    this.events = new sqs.Queue(this, "Events", {
      visibilityTimeout: Duration.minutes(12),
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });

    this.function = new lambda.Function(this, "Registry", {
      description: "OCI Distribution registry (Hono on Lambda)",
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      code: lambda.Code.fromAsset(props.lambdaBundleDir),
      handler: "index.handler",
      memorySize: props.memoryMiB ?? 1024,
      // A PATCH streams up to 4.5 MB and writes a part; expiry runs abort up to 2,000 uploads.
      timeout: Duration.minutes(2),
      logGroup,
      environment: {
        S3_BUCKET: this.bucket.bucketName,
        DYNAMODB_TABLE: this.table.tableName,
        AUTH_CONFIG_SECRET_ARN: this.authConfig.secretArn,
        MIRRORS_SECRET_ARN: this.mirrors.secretArn,
        UPLOAD_TTL_SECONDS: String(uploadTtlSeconds),
        BLOB_REDIRECT_TTL_SECONDS: String(props.blobRedirectTtlSeconds ?? 300),
        NODE_OPTIONS: "--enable-source-maps",
        EVENTS_QUEUE_URL: this.events.queueUrl,
        ...(props.notifications ? { NOTIFICATIONS: props.notifications } : {}),
      },
      // Serves the secret to the function on localhost:2773, cached (runtime/lambda-secrets.ts).
      paramsAndSecrets: lambda.ParamsAndSecretsLayerVersion.fromVersion(lambda.ParamsAndSecretsVersions.V1_0_103, {
        cacheSize: 10,
        logLevel: lambda.ParamsAndSecretsLogLevel.WARN,
      }),
    });
    this.bucket.grantReadWrite(this.function);
    this.table.grantReadWriteData(this.function);
    this.authConfig.grantRead(this.function);
    this.mirrors.grantRead(this.function);
    this.events.grantSendMessages(this.function);
    this.function.addEventSource(new SqsEventSource(this.events, { batchSize: 10, reportBatchItemFailures: true }));

    // The registry does its own auth; a buffered response is enough, since blob GETs redirect to S3.
    const url = this.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE, invokeMode: lambda.InvokeMode.BUFFERED });

    new events.Rule(this, "UploadExpiry", {
      description: "Aborts abandoned registry uploads and frees their storage",
      schedule: events.Schedule.rate(Duration.hours(1)),
      targets: [new targets.LambdaFunction(this.function)],
    });

    if (props.uploadService) {
      this.uploads = new UploadService(this, "Uploads", {
        ...props.uploadService,
        bucket: this.bucket,
        table: this.table,
        authConfig: this.authConfig,
        registryUrl: url.url,
        uploadTtlSeconds,
        logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      });
      this.function.addEnvironment("UPLOAD_URL", this.uploads.url);
      new CfnOutput(this, "UploadUrl", { value: this.uploads.url, description: "The upload service, where the function sends uploads (UPLOAD_URL)" });
      new CfnOutput(this, "UploadLoadBalancerDns", {
        value: this.uploads.loadBalancer.loadBalancerDnsName,
        description: "Point the upload host name here (CNAME) unless the stack was given its hosted zone",
      });
    }

    new CfnOutput(this, "RegistryUrl", { value: url.url, description: "The registry's base URL (clients use its host name)" });
    new CfnOutput(this, "BucketName", { value: this.bucket.bucketName });
    new CfnOutput(this, "TableName", { value: this.table.tableName });
    new CfnOutput(this, "AuthConfigSecretArn", { value: this.authConfig.secretArn, description: "Put the auth configuration (JSON) here" });
    new CfnOutput(this, "MirrorsSecretArn", { value: this.mirrors.secretArn, description: "Put the pull-through mirrors (the MIRRORS JSON) here" });
  }
}
