/**
 * Bundles the Lambda entry point (src/runtime/lambda.ts) and everything it
 * imports, the AWS SDK included (pinned here, not whatever version the Lambda
 * runtime ships), into one ES module: `<outdir>/index.mjs`, handler `index.handler`.
 *
 *   npm run bundle:lambda        writes dist/lambda/
 */
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";

export const REPOSITORY_ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
export const DEFAULT_BUNDLE_DIR = resolve(REPOSITORY_ROOT, "dist/lambda");

export async function bundleLambda(outdir = DEFAULT_BUNDLE_DIR): Promise<string> {
  await build({
    entryPoints: [resolve(REPOSITORY_ROOT, "src/runtime/lambda.ts")],
    outfile: resolve(outdir, "index.mjs"),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    sourcemap: "linked",
    legalComments: "linked",
    logLevel: "warning",
    // CommonJS dependencies (parts of the AWS SDK) call require() for Node built-ins; an ES module has none.
    banner: { js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);' },
  });
  return outdir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outdir = await bundleLambda(process.argv[2] ? resolve(process.argv[2]) : undefined);
  console.log(`Lambda bundle written to ${outdir}/index.mjs`);
}
