/**
 * `npm run synth`: bundles the function and writes the CloudFormation
 * template and assets to cdk.out, offline (no AWS account, no CDK CLI).
 * Deploy that directory with `npx aws-cdk deploy --app cdk.out` (docs/aws.md).
 *
 *   npm run synth -- [OUTDIR] [-c key=value]…   context as the CDK CLI takes it (stackName,
 *                                              uploadDomain, uploadCertificateArn, …)
 */
import { resolve } from "node:path";
import { buildRegistryApp } from "./app.ts";
import { bundleLambda, REPOSITORY_ROOT } from "./bundle.ts";

const context: Record<string, string> = {};
const positional: string[] = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i]!;
  if (arg !== "-c" && arg !== "--context") {
    positional.push(arg);
    continue;
  }
  const pair = args[++i] ?? "";
  const equals = pair.indexOf("=");
  if (equals < 1) throw new Error(`${arg} takes key=value, not ${JSON.stringify(pair)}`);
  context[pair.slice(0, equals)] = pair.slice(equals + 1);
}
const outdir = resolve(REPOSITORY_ROOT, positional[0] ?? "cdk.out");
const lambdaBundleDir = await bundleLambda();
const { app, stack } = buildRegistryApp({ lambdaBundleDir, outdir, context });
const assembly = app.synth();
console.log(`synthesised ${stack.stackName} to ${assembly.directory}/${stack.templateFile}`);
