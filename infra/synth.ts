/**
 * `npm run synth`: bundles the function and writes the CloudFormation
 * template and assets to cdk.out, offline (no AWS account, no CDK CLI).
 * Deploy that directory with `npx aws-cdk deploy --app cdk.out` (docs/aws.md).
 */
import { resolve } from "node:path";
import { buildRegistryApp } from "./app.ts";
import { bundleLambda, REPOSITORY_ROOT } from "./bundle.ts";

const outdir = resolve(REPOSITORY_ROOT, process.argv[2] ?? "cdk.out");
const lambdaBundleDir = await bundleLambda();
const { app, stack } = buildRegistryApp({ lambdaBundleDir, outdir });
const assembly = app.synth();
console.log(`synthesised ${stack.stackName} to ${assembly.directory}/${stack.templateFile}`);
