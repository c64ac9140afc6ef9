/**
 * The split deployment's CDK side (infra/upload-service.ts): the optional upload
 * service synthesised offline from context, checked with aws-cdk-lib/assertions.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Match, Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildRegistryApp } from "../../infra/app.ts";
import { bundleLambda } from "../../infra/bundle.ts";
import { UPLOAD_PATH_PATTERN } from "../../infra/upload-service.ts";

const CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const UPLOADS = { uploadDomain: "uploads.registry.example.com", uploadCertificateArn: CERTIFICATE };

describe("infra: the split deployment's upload service", () => {
  let bundleDir: string;
  const outdirs: string[] = [];
  const synth = async (context: Record<string, string>) => {
    const outdir = await mkdtemp(join(tmpdir(), "registry-cdk-out-"));
    outdirs.push(outdir);
    const { app, stack } = buildRegistryApp({ lambdaBundleDir: bundleDir, outdir, context });
    return { app, stack, outdir, template: Template.fromStack(stack) };
  };
  let template: Template;
  let outdir: string;
  let ids: { bucket: string; table: string; secret: string; url: string; targetGroup: string };

  beforeAll(async () => {
    bundleDir = await mkdtemp(join(tmpdir(), "registry-lambda-bundle-"));
    await bundleLambda(bundleDir);
    ({ template, outdir } = await synth(UPLOADS));
    const only = (type: string) => {
      const found = Object.keys(template.findResources(type));
      expect(found, type).toHaveLength(1);
      return found[0]!;
    };
    ids = {
      bucket: only("AWS::S3::Bucket"),
      table: only("AWS::DynamoDB::Table"),
      // The stack's other secret (Mirrors) is the function's alone: the load balancer forwards only
      // upload sessions the function started, never into a mirror's namespace.
      secret: Object.keys(template.findResources("AWS::SecretsManager::Secret")).find((id) => id.startsWith("AuthConfig"))!,
      url: only("AWS::Lambda::Url"),
      targetGroup: only("AWS::ElasticLoadBalancingV2::TargetGroup"),
    };
  });
  afterAll(async () => {
    await rm(bundleDir, { recursive: true, force: true });
    for (const dir of outdirs) await rm(dir, { recursive: true, force: true });
  });

  it("tells the function where uploads go (UPLOAD_URL), and outputs it with the load balancer's name for the DNS record", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: { Variables: Match.objectLike({ UPLOAD_URL: "https://uploads.registry.example.com" }) },
    });
    template.hasOutput("UploadUrl", { Value: "https://uploads.registry.example.com" });
    template.hasOutput("UploadLoadBalancerDns", { Value: { "Fn::GetAtt": [Match.anyValue(), "DNSName"] } });
  });

  it("runs the Node runtime from the repository's Containerfile on Fargate, on the stack's bucket, table and auth secret", async () => {
    template.hasResourceProperties("AWS::ECS::TaskDefinition", {
      RequiresCompatibilities: ["FARGATE"],
      ContainerDefinitions: [
        Match.objectLike({
          PortMappings: [Match.objectLike({ ContainerPort: 5000 })],
          Environment: Match.arrayWith([
            { Name: "BACKEND", Value: "aws" },
            { Name: "S3_BUCKET", Value: { Ref: ids.bucket } },
            { Name: "DYNAMODB_TABLE", Value: { Ref: ids.table } },
            // Its challenges send clients to the function's /token, which the load balancer does not forward here.
            { Name: "PUBLIC_URL", Value: { "Fn::GetAtt": [ids.url, "FunctionUrl"] } },
            { Name: "GC_INTERVAL_SECONDS", Value: "0" },
          ]),
          Secrets: [{ Name: "AUTH_CONFIG", ValueFrom: { Ref: ids.secret } }],
        }),
      ],
    });
    const assets = JSON.parse(await readFile(join(outdir, "OciRegistry.assets.json"), "utf8")) as { dockerImages: Record<string, { source: { dockerFile: string; platform: string; directory: string } }> };
    const images = Object.values(assets.dockerImages);
    expect(images).toHaveLength(1);
    expect(images[0]!.source).toMatchObject({ dockerFile: "Containerfile", platform: "linux/amd64" });
    // The build context holds what the Containerfile copies, not the tests or node_modules.
    const staged = join(outdir, images[0]!.source.directory);
    for (const needed of ["Containerfile", "package.json", "package-lock.json", "bin", "scripts", "src", "native"]) await expect(readFile(join(staged, needed)).catch((e: NodeJS.ErrnoException) => e.code)).resolves.not.toBe("ENOENT");
    for (const left of ["node_modules", "test", ".git", "dist"]) await expect(readFile(join(staged, left)).catch((e: NodeJS.ErrnoException) => e.code)).resolves.toBe("ENOENT");
  });

  it("lets the task use the bucket and table, and only its execution role read the secret", () => {
    const policies = Object.values(template.findResources("AWS::IAM::Policy")) as { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] }; Roles: { Ref: string }[] } }[];
    const taskRole = Object.keys(template.findResources("AWS::IAM::Role")).find((id) => id.includes("TaskTaskRole"))!;
    const executionRole = Object.keys(template.findResources("AWS::IAM::Role")).find((id) => id.includes("TaskExecutionRole"))!;
    const statementsOf = (role: string) => policies.filter((policy) => policy.Properties.Roles.some((ref) => ref.Ref === role)).flatMap((policy) => policy.Properties.PolicyDocument.Statement);
    const taskActions = statementsOf(taskRole).flatMap((statement) => [statement.Action].flat());
    for (const action of ["s3:PutObject", "s3:GetObject*", "s3:Abort*", "dynamodb:PutItem", "dynamodb:Query"]) expect(taskActions).toContain(action);
    expect(taskActions.filter((action) => action.startsWith("secretsmanager:"))).toEqual([]);
    expect(JSON.stringify(statementsOf(executionRole))).toContain(`"Ref":"${ids.secret}"`);
    expect(taskActions.concat(statementsOf(executionRole).flatMap((s) => [s.Action].flat())).filter((action) => action.endsWith(":*") || action === "*")).toEqual([]);
  });

  it("serves HTTPS with the given certificate, forwards only upload-session paths to the tasks, and answers anything else with an OCI 404", () => {
    template.hasResourceProperties("AWS::ElasticLoadBalancingV2::LoadBalancer", { Scheme: "internet-facing" });
    template.hasResourceProperties("AWS::ElasticLoadBalancingV2::Listener", {
      Port: 443,
      Protocol: "HTTPS",
      Certificates: [{ CertificateArn: CERTIFICATE }],
      DefaultActions: [Match.objectLike({ Type: "fixed-response", FixedResponseConfig: Match.objectLike({ StatusCode: "404", ContentType: "application/json" }) })],
    });
    // One listener: nothing answers in plain HTTP, where a token would cross in the clear.
    expect(Object.keys(template.findResources("AWS::ElasticLoadBalancingV2::Listener"))).toHaveLength(1);
    template.hasResourceProperties("AWS::ElasticLoadBalancingV2::ListenerRule", {
      Conditions: [{ Field: "path-pattern", PathPatternConfig: { Values: [UPLOAD_PATH_PATTERN] } }],
      Actions: [{ Type: "forward", TargetGroupArn: { Ref: ids.targetGroup } }],
    });
    template.hasResourceProperties("AWS::ElasticLoadBalancingV2::TargetGroup", { Port: 5000, Protocol: "HTTP", HealthCheckPath: "/healthz", TargetType: "ip" });
    const body = (Object.values(template.findResources("AWS::ElasticLoadBalancingV2::Listener"))[0] as { Properties: { DefaultActions: { FixedResponseConfig: { MessageBody: string } }[] } }).Properties.DefaultActions[0]!.FixedResponseConfig.MessageBody;
    expect(JSON.parse(body)).toMatchObject({ errors: [{ code: "UNSUPPORTED" }] });
  });

  it("pays for no NAT gateway: public subnets, with free gateway endpoints to S3 and DynamoDB", () => {
    expect(Object.keys(template.findResources("AWS::EC2::NatGateway"))).toEqual([]);
    const endpoints = Object.values(template.findResources("AWS::EC2::VPCEndpoint")) as { Properties: { VpcEndpointType?: string; ServiceName: unknown } }[];
    expect(endpoints.map((endpoint) => JSON.stringify(endpoint.Properties.ServiceName)).sort()).toEqual([expect.stringContaining(".dynamodb"), expect.stringContaining(".s3")]);
    template.hasResourceProperties("AWS::ECS::Service", { NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ AssignPublicIp: "ENABLED" }) } });
  });

  it("adds an alias record when given the hosted zone", async () => {
    const { template: withZone } = await synth({ ...UPLOADS, uploadHostedZoneId: "Z0123456789ABCDEFGHIJ", uploadHostedZoneName: "registry.example.com" });
    withZone.hasResourceProperties("AWS::Route53::RecordSet", { Name: "uploads.registry.example.com.", Type: "A", HostedZoneId: "Z0123456789ABCDEFGHIJ" });
  });

  it("synthesises offline with the stack pinned to an account: no lookup is left for the CLI", async () => {
    const saved = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
    process.env.CDK_DEFAULT_ACCOUNT = "123456789012";
    process.env.CDK_DEFAULT_REGION = "eu-west-1";
    try {
      const { app, template: pinned } = await synth(UPLOADS);
      expect(app.synth().manifest.missing ?? []).toEqual([]);
      expect(JSON.stringify(Object.values(pinned.findResources("AWS::EC2::Subnet")))).toContain("Fn::GetAZs");
    } finally {
      for (const [name, value] of [["CDK_DEFAULT_ACCOUNT", saved.account], ["CDK_DEFAULT_REGION", saved.region]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it("leaves the upload service out without the context, and refuses half of it", async () => {
    const { template: plain } = await synth({});
    expect(Object.keys(plain.findResources("AWS::ECS::Service"))).toEqual([]);
    expect(JSON.stringify(plain.findResources("AWS::Lambda::Function"))).not.toContain("UPLOAD_URL");
    await expect(synth({ uploadDomain: "uploads.registry.example.com" })).rejects.toThrow(/uploadCertificateArn/);
  });
});
