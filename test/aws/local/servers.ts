/**
 * Starts and stops the local stand-ins for AWS together: Ceph RGW for S3,
 * dynalite for DynamoDB and fauxqs for SQS, all state under one directory. The settings come
 * back as the environment variables the registry's AWS backend reads
 * (src/config/schema.ts), and are written to `<dir>/env` for shells.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startDynalite } from "./dynalite.ts";
import { startRgw } from "./ceph-rgw.ts";
import { startFauxqs } from "./fauxqs.ts";
import { killAll } from "./processes.ts";

export interface LocalAws {
  dir: string;
  env: Record<string, string>;
  pids: number[];
}

export async function startLocalAws(dir: string): Promise<LocalAws> {
  await mkdir(dir, { recursive: true });
  const started = await Promise.allSettled([startRgw(join(dir, "ceph")), startDynalite(dir), startFauxqs(dir)]);
  const pids = started.flatMap((result) => (result.status === "fulfilled" ? result.value.pids : []));
  await writeFile(join(dir, "pids"), pids.join("\n"));
  const failure = started.find((result) => result.status === "rejected");
  if (failure) {
    await stopLocalAws(dir, { keepDir: true });
    throw failure.reason;
  }
  const value = <T>(result: PromiseSettledResult<T>): T => (result as PromiseFulfilledResult<T>).value;
  const [rgw, dynalite, fauxqs] = [value(started[0]), value(started[1]), value(started[2])];
  const env: Record<string, string> = {
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: rgw.accessKeyId,
    AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey,
    S3_ENDPOINT: rgw.endpoint,
    S3_FORCE_PATH_STYLE: "true",
    DYNAMODB_ENDPOINT: dynalite.endpoint,
    // Not a registry setting: the registry reaches SQS at EVENTS_QUEUE_URL's origin (provision.ts).
    LOCAL_SQS_ENDPOINT: fauxqs.endpoint,
  };
  await writeFile(join(dir, "env"), Object.entries(env).map(([name, value]) => `export ${name}=${value}\n`).join(""));
  return { dir, env, pids };
}

/** Kills what `startLocalAws` started in `dir` (by the pids it recorded) and removes the directory. */
export async function stopLocalAws(dir: string, options: { keepDir?: boolean } = {}): Promise<void> {
  const recorded = await readFile(join(dir, "pids"), "utf8").catch(() => "");
  const pids = recorded.split("\n").filter(Boolean).map(Number);
  await killAll(pids);
  if (!options.keepDir) await rm(dir, { recursive: true, force: true });
}
