/**
 * The CDK app: one RegistryStack. Synthesised offline by infra/synth.ts
 * (`npm run synth`), deployed with the AWS CDK CLI (docs/aws.md).
 */
import { App } from "aws-cdk-lib";
import { REPOSITORY_ROOT } from "./bundle.ts";
import { RegistryStack } from "./registry-stack.ts";
import type { UploadServiceOptions } from "./upload-service.ts";

export interface RegistryAppOptions {
  lambdaBundleDir: string;
  outdir?: string;
  /** Stack name (context `stackName`, default OciRegistry). */
  stackName?: string;
  /** CDK context (`npm run synth -- -c key=value`), on top of cdk.json's and CDK_CONTEXT_JSON's. */
  context?: Record<string, string>;
}

/**
 * The upload service from context (docs/aws.md, "Large pushes: the split deployment"): on when
 * `uploadDomain` and `uploadCertificateArn` are given; `uploadHostedZoneId` with
 * `uploadHostedZoneName`, `uploadImage` and `uploadDesiredCount` are optional.
 */
function uploadServiceFromContext(app: App): UploadServiceOptions | undefined {
  const read = (key: string) => app.node.tryGetContext(key) as string | undefined;
  const domainName = read("uploadDomain");
  const certificateArn = read("uploadCertificateArn");
  if (!domainName && !certificateArn) return undefined;
  if (!domainName || !certificateArn) throw new Error("the upload service needs both -c uploadDomain=<host name> and -c uploadCertificateArn=<ACM certificate ARN covering it>");
  const zoneId = read("uploadHostedZoneId");
  const zoneName = read("uploadHostedZoneName");
  if (Boolean(zoneId) !== Boolean(zoneName)) throw new Error("uploadHostedZoneId and uploadHostedZoneName go together");
  const image = read("uploadImage");
  const count = read("uploadDesiredCount");
  if (count !== undefined && !/^\d+$/.test(String(count))) throw new Error(`uploadDesiredCount must be a whole number, not ${JSON.stringify(count)}`);
  return {
    domainName,
    certificateArn,
    ...(zoneId && zoneName ? { hostedZone: { id: zoneId, name: zoneName } } : {}),
    ...(image ? { image } : {}),
    ...(count !== undefined ? { desiredCount: Number(count) } : {}),
  };
}

export function buildRegistryApp(options: RegistryAppOptions): { app: App; stack: RegistryStack } {
  const app = new App({ ...(options.outdir ? { outdir: options.outdir } : {}), ...(options.context ? { context: options.context } : {}) });
  const stackName = options.stackName ?? (app.node.tryGetContext("stackName") as string | undefined) ?? "OciRegistry";
  const env = process.env.CDK_DEFAULT_ACCOUNT ? { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } : undefined;
  const uploadService = uploadServiceFromContext(app);
  const stack = new RegistryStack(app, stackName, {
    lambdaBundleDir: options.lambdaBundleDir,
    ...(uploadService ? { uploadService: { ...uploadService, repositoryRoot: REPOSITORY_ROOT } } : {}),
    ...(env ? { env } : {}),
  });
  return { app, stack };
}
