/**
 * `npx oci-registry copy [options] SOURCE DESTINATION`: copies an image or index into a
 * registry in chunks it accepts (src/copy/copy.ts), with skopeo's transport syntax and flags.
 *
 *   npx oci-registry copy oci:./my-image:latest docker://registry.example.com/team/app:v1
 *   npx oci-registry copy --dest-tls-verify=false docker-archive:app.tar docker://127.0.0.1:8787/team/app:v1
 *   npx oci-registry copy docker://docker.io/library/alpine:3 docker://registry.example.com/mirror/alpine:3
 *
 * Exit status: 0 copied, 1 failed, 2 wrong usage.
 */
import { parseArgs } from "node:util";
import { authFilePaths, credentialsFromAuthFiles, parseCredentials, type Credentials } from "./auth-files.ts";
import { copyImage } from "./copy.ts";
import { formatBytes } from "../core/format-bytes.ts";
import { createProgress } from "./progress.ts";
import { RegistryClient } from "./registry-client.ts";
import { openSource } from "./sources.ts";
import { parseTransport, TransportError, type DockerReference } from "./transports.ts";

const USAGE = `usage: oci-registry copy [options] SOURCE DESTINATION

SOURCE      oci:DIR[:TAG] | oci-archive:FILE[:TAG] | docker-archive:FILE[:NAME:TAG|:@N] | docker://HOST/NAME[:TAG|@DIGEST]
DESTINATION docker://HOST/NAME[:TAG|@DIGEST]

  --src-creds USER:PASSWORD     credentials for the source registry (default: podman's and docker's auth files)
  --dest-creds USER:PASSWORD    credentials for the destination registry (likewise)
  --authfile FILE               read credentials from this auth file first (also --src-authfile, --dest-authfile)
  --src-tls-verify=false        plain HTTP to the source registry
  --dest-tls-verify=false       plain HTTP to the destination registry
  --jobs N                      blobs uploaded at once (default 4)
  --chunk-size BYTES            at most this many bytes per request (the registry's OCI-Chunk-Max-Length is kept to anyway)
  --quiet                       print nothing but errors`;

function usage(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

/** skopeo writes `--dest-tls-verify` alone for true; parseArgs wants a value. */
function withBooleanValues(args: string[]): string[] {
  return args.map((arg) => (/^--(src-|dest-)?tls-verify$/.test(arg) ? `${arg}=true` : arg));
}

function tlsVerify(value: string | undefined, flag: string): boolean {
  if (value === undefined || value === "true") return true;
  if (value === "false") return false;
  return usage(`${flag} takes true or false, not "${value}"`);
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: withBooleanValues(process.argv.slice(2)),
      allowPositionals: true,
      options: {
        "src-creds": { type: "string" },
        "dest-creds": { type: "string" },
        authfile: { type: "string" },
        "src-authfile": { type: "string" },
        "dest-authfile": { type: "string" },
        "src-tls-verify": { type: "string" },
        "dest-tls-verify": { type: "string" },
        "tls-verify": { type: "string" },
        jobs: { type: "string" },
        "chunk-size": { type: "string" },
        quiet: { type: "boolean", short: "q" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    return usage((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 2) return usage("copy takes a SOURCE and a DESTINATION");
  const jobs = values.jobs === undefined ? 4 : Number(values.jobs);
  if (!Number.isSafeInteger(jobs) || jobs < 1 || jobs > 32) return usage("--jobs takes a number from 1 to 32");
  const chunkLimit = values["chunk-size"] === undefined ? undefined : Number(values["chunk-size"]);
  if (chunkLimit !== undefined && (!Number.isSafeInteger(chunkLimit) || chunkLimit < 1)) return usage("--chunk-size takes a number of bytes");

  let source, destination;
  try {
    source = parseTransport(positionals[0]!);
    destination = parseTransport(positionals[1]!);
  } catch (error) {
    if (error instanceof TransportError) return usage(error.message);
    throw error;
  }
  if (destination.kind !== "docker") return usage(`this tool copies into registries (docker://…); for ${destination.kind}: destinations use skopeo copy`);

  const client = (reference: DockerReference, side: "src" | "dest"): RegistryClient => {
    const flag = values[`${side}-creds`];
    let credentials: Credentials | undefined = flag === undefined ? undefined : parseCredentials(flag, `--${side}-creds`);
    if (!credentials) {
      const files = [values[`${side}-authfile`], values.authfile].filter((f): f is string => f !== undefined).concat(authFilePaths(process.env));
      const found = credentialsFromAuthFiles(reference.host, reference.repository, files);
      if (!found.credentials && found.source) console.error(`note: ${found.source}`);
      credentials = found.credentials;
    }
    const tls = tlsVerify(values[`${side}-tls-verify`] ?? values["tls-verify"], `--${side}-tls-verify`);
    return new RegistryClient({ host: reference.apiHost, tls, credentials });
  };

  const destinationReference = destination.reference;
  const destinationClient = client(destinationReference, "dest");
  const sourceTransport = source;
  const image = await openSource(sourceTransport, () => {
    if (sourceTransport.kind !== "docker") throw new Error("unreachable: a registry client for a file source");
    const reference = sourceTransport.reference;
    // One client per registry, so a copy within one registry shares its token cache and can mount.
    return reference.apiHost === destinationReference.apiHost ? destinationClient : client(reference, "src");
  });
  const progress = createProgress(process.stderr, values.quiet === true);
  const started = performance.now();
  try {
    const result = await copyImage({ source: image, destination: destinationClient, reference: destinationReference, jobs, chunkLimit, progress });
    progress.close();
    const seconds = (performance.now() - started) / 1000;
    const { uploaded, exists, mounted } = result.blobs;
    progress.line(
      `copied ${positionals[0]} to ${positionals[1]} (${result.digest}): ${uploaded} blobs uploaded (${formatBytes(result.bytesUploaded)}), ${exists} already there, ${mounted} mounted, in ${seconds.toFixed(1)} s`,
    );
    if (values.quiet) console.log(result.digest);
    return 0;
  } finally {
    progress.close();
  }
}

main().then(
  (status) => process.exit(status),
  (error: unknown) => {
    console.error(`copy failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
