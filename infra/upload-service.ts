/**
 * The split deployment's upload service (docs/aws.md): the Node runtime
 * (the repository's Containerfile image, BACKEND=aws) on ECS Fargate behind an
 * HTTPS Application Load Balancer, on the stack's bucket, table and auth secret.
 * The Lambda keeps pulls and the API; with UPLOAD_URL it answers the upload POST
 * with a Location here, so docker and podman send their layer-sized PATCH and PUT
 * past Lambda's 6 MB limit.
 *
 * Why Fargate behind an ALB, not App Runner: App Runner ends every request at
 * 120 seconds, which a large layer on an ordinary uplink outlasts; an ALB's
 * timeout counts idle time only and it streams bodies of any size. The load
 * balancer forwards upload-session paths alone, so /token, the web interface
 * and /admin stay on the Lambda, which sees each client's address.
 */
import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as certificates from "aws-cdk-lib/aws-certificatemanager";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import { Platform } from "aws-cdk-lib/aws-ecr-assets";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2";
import * as logs from "aws-cdk-lib/aws-logs";
import * as route53 from "aws-cdk-lib/aws-route53";
import * as route53Targets from "aws-cdk-lib/aws-route53-targets";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";

/** What the upload service path pattern admits: `/v2/<name>/blobs/uploads/` and `…/uploads/<id>` (ALB's `*` spans slashes). */
export const UPLOAD_PATH_PATTERN = "/v2/*/blobs/uploads/*";

/** Fargate lets a task take at most 120 s to stop; requests in flight get most of it. */
const STOP_TIMEOUT_SECONDS = 120;

export interface UploadServiceOptions {
  /** The host name clients reach the upload service at, e.g. uploads.registry.example.com. */
  domainName: string;
  /** An ACM certificate in the stack's region covering `domainName`. */
  certificateArn: string;
  /** A Route 53 zone to create `domainName` in (an alias to the load balancer); without it, point a CNAME at the UploadLoadBalancerDns output. */
  hostedZone?: { id: string; name: string };
  /** A prebuilt image of the Containerfile (e.g. in ECR); default: built from this repository when deploying. */
  image?: string;
  /** Tasks serving uploads (default 1). */
  desiredCount?: number;
  /** vCPU units and memory of a task (default 1024 and 2048). */
  cpu?: number;
  memoryMiB?: number;
}

export interface UploadServiceProps extends UploadServiceOptions {
  repositoryRoot: string;
  bucket: s3.IBucket;
  table: dynamodb.ITable;
  authConfig: secretsmanager.ISecret;
  /** The Lambda's origin: the realm the upload service's challenges name (its /token is not forwarded here). */
  registryUrl: string;
  uploadTtlSeconds: number;
  logRetention: logs.RetentionDays;
}

export class UploadService extends Construct {
  /** `https://<domainName>`: the Lambda's UPLOAD_URL. */
  readonly url: string;
  readonly service: ecs.FargateService;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;

  constructor(scope: Construct, id: string, props: UploadServiceProps) {
    super(scope, id);
    this.url = `https://${props.domainName}`;

    // Public subnets and no NAT gateway (they cost by the hour): tasks reach ECR and Secrets Manager
    // through a public address, S3 and DynamoDB through free gateway endpoints. Their security group
    // admits the load balancer alone.
    // Two zones, named at deploy time (RegistryStack.availabilityZones).
    const vpc = new ec2.Vpc(this, "Network", {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: "public", subnetType: ec2.SubnetType.PUBLIC }],
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
    });
    const cluster = new ecs.Cluster(this, "Cluster", { vpc });

    const task = new ecs.FargateTaskDefinition(this, "Task", {
      cpu: props.cpu ?? 1024,
      memoryLimitMiB: props.memoryMiB ?? 2048,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    const image = props.image
      ? ecs.ContainerImage.fromRegistry(props.image)
      : ecs.ContainerImage.fromAsset(props.repositoryRoot, {
          file: "Containerfile",
          platform: Platform.LINUX_AMD64,
          // The build reads package*.json, bin/, scripts/, src/ and native/ (and .dockerignore drops node_modules, dist, …).
          exclude: [".git", ".ci", "bench", "docs", "examples", "infra", "test", "native/sha2/build", "cdk.out"],
        });
    const maxUploads = 64;
    task.addContainer("Registry", {
      image,
      essential: true,
      portMappings: [{ containerPort: 5000 }],
      stopTimeout: Duration.seconds(STOP_TIMEOUT_SECONDS),
      logging: ecs.LogDrivers.awsLogs({
        streamPrefix: "uploads",
        logGroup: new logs.LogGroup(this, "Logs", { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY }),
      }),
      environment: {
        BACKEND: "aws",
        S3_BUCKET: props.bucket.bucketName,
        DYNAMODB_TABLE: props.table.tableName,
        AWS_REGION: Stack.of(this).region,
        PUBLIC_URL: props.registryUrl,
        UPLOAD_TTL_SECONDS: String(props.uploadTtlSeconds),
        // The Lambda's hourly run collects garbage and expires uploads for both.
        GC_INTERVAL_SECONDS: "0",
        // Every client arrives from the load balancer's addresses: a per-address cap would be a shared one.
        MAX_UPLOADS: String(maxUploads),
        MAX_UPLOADS_PER_CLIENT: String(maxUploads),
        SHUTDOWN_GRACE_SECONDS: String(STOP_TIMEOUT_SECONDS - 10),
        LOG_FORMAT: "json",
      },
      // Read when a task starts: after changing the secret, start new tasks (docs/aws.md).
      secrets: { AUTH_CONFIG: ecs.Secret.fromSecretsManager(props.authConfig) },
    });
    props.bucket.grantReadWrite(task.taskRole);
    props.table.grantReadWriteData(task.taskRole);

    this.service = new ecs.FargateService(this, "Service", {
      cluster,
      taskDefinition: task,
      desiredCount: props.desiredCount ?? 1,
      assignPublicIp: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      minHealthyPercent: 100,
      circuitBreaker: { rollback: true },
    });

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, "LoadBalancer", {
      vpc,
      internetFacing: true,
      // Counts time without a byte either way, not a request's length: a streaming layer never trips it.
      idleTimeout: Duration.seconds(120),
    });
    const listener = this.loadBalancer.addListener("Https", {
      port: 443,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
      certificates: [certificates.Certificate.fromCertificateArn(this, "Certificate", props.certificateArn)],
      defaultAction: elbv2.ListenerAction.fixedResponse(404, {
        contentType: "application/json",
        messageBody: JSON.stringify({
          errors: [{ code: "UNSUPPORTED", message: "this address takes blob uploads only; use the registry's own address", detail: null }],
        }),
      }),
    });
    listener.addTargets("Uploads", {
      priority: 10,
      conditions: [elbv2.ListenerCondition.pathPatterns([UPLOAD_PATH_PATTERN])],
      port: 5000,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [this.service],
      healthCheck: { path: "/healthz", healthyHttpCodes: "200", interval: Duration.seconds(15) },
      deregistrationDelay: Duration.seconds(STOP_TIMEOUT_SECONDS - 10),
    });

    if (props.hostedZone) {
      const zone = route53.HostedZone.fromHostedZoneAttributes(this, "Zone", { hostedZoneId: props.hostedZone.id, zoneName: props.hostedZone.name });
      new route53.ARecord(this, "Alias", { zone, recordName: props.domainName, target: route53.RecordTarget.fromAlias(new route53Targets.LoadBalancerTarget(this.loadBalancer)) });
    }
  }
}
