/**
 * The CDK app: one RegistryStack. Synthesised offline by infra/synth.ts
 * (`npm run synth`), deployed with the AWS CDK CLI (docs/aws.md).
 */
import { App } from "aws-cdk-lib";
import { RegistryStack } from "./registry-stack.ts";

export interface RegistryAppOptions {
  lambdaBundleDir: string;
  outdir?: string;
  /** Stack name (context `stackName`, default OciRegistry). */
  stackName?: string;
}

export function buildRegistryApp(options: RegistryAppOptions): { app: App; stack: RegistryStack } {
  const app = new App(options.outdir ? { outdir: options.outdir } : {});
  const stackName = options.stackName ?? (app.node.tryGetContext("stackName") as string | undefined) ?? "OciRegistry";
  const env = process.env.CDK_DEFAULT_ACCOUNT ? { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } : undefined;
  const stack = new RegistryStack(app, stackName, { lambdaBundleDir: options.lambdaBundleDir, ...(env ? { env } : {}) });
  return { app, stack };
}
