/**
 * A throwaway single-node Ceph cluster serving S3 through radosgw on
 * 127.0.0.1: one monitor, one RAM-backed (memstore) OSD and radosgw's beast
 * frontend, with cephx auth, all state under one directory. RGW is a real S3
 * implementation (signatures, presigned URLs, multipart rules, conditional
 * writes), unlike in-process S3 fakes; see docs/aws.md for what it cannot prove.
 *
 * Needs Debian's ceph-mon, ceph-osd and radosgw packages (Ceph 16, Pacific).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, run, spawnDaemon, waitFor } from "./processes.ts";

export const CEPH_COMMANDS = ["ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph"];

export interface RgwServer {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  pids: number[];
}

/** The Ceph commands missing from PATH (empty when the cluster can start). */
export function missingCephCommands(): string[] {
  const path = (process.env.PATH ?? "").split(":");
  return CEPH_COMMANDS.filter((command) => !path.some((dir) => existsSync(join(dir, command))));
}

export async function startRgw(dir: string): Promise<RgwServer> {
  const [monPort, rgwPort] = [await freePort(), await freePort()];
  const fsid = randomUUID();
  const osdUuid = randomUUID();
  for (const sub of ["run", "log", "mon/ceph-a", "osd/ceph-0"]) await mkdir(join(dir, sub), { recursive: true });
  const conf = join(dir, "ceph.conf");
  await writeFile(conf, cephConf(dir, fsid, monPort, rgwPort));

  // Keys written directly (what ceph-authtool --gen-key writes); the monitor
  // imports every key with its caps at mkfs, so no `ceph auth` round trips later.
  const admin = keyringEntry("client.admin", { mon: "allow *", osd: "allow *", mgr: "allow *" });
  const osd = keyringEntry("osd.0", { mon: "allow profile osd", osd: "allow *", mgr: "allow profile osd" });
  const rgw = keyringEntry("client.rgw.local", { mon: "allow rw", osd: "allow rwx" });
  await writeFile(join(dir, "keyring"), admin);
  await writeFile(join(dir, "osd/ceph-0/keyring"), osd);
  await writeFile(join(dir, "rgw.keyring"), rgw);
  await writeFile(join(dir, "mon.keyring"), keyringEntry("mon.", { mon: "allow *" }) + admin + osd + rgw);

  const monmap = join(dir, "monmap");
  await run("monmaptool", ["--create", "--fsid", fsid, "--add", "a", `v1:127.0.0.1:${monPort}`, monmap]);
  // The OSD's filesystem needs no monitor; make it while the monitor starts.
  const osdMkfs = run("ceph-osd", ["-c", conf, "-i", "0", "--mkfs", "--osd-uuid", osdUuid, "--no-mon-config"]);
  await run("ceph-mon", ["-c", conf, "--mkfs", "-i", "a", "--monmap", monmap, "--keyring", join(dir, "mon.keyring")]);
  const pids = [spawnDaemon("ceph-mon", ["-f", "-c", conf, "-i", "a"], join(dir, "log/mon.a.stdout"))];
  await osdMkfs;
  await run("ceph", ["-c", conf, "--connect-timeout", "30", "osd", "new", osdUuid, "0"]);
  pids.push(spawnDaemon("ceph-osd", ["-f", "-c", conf, "-i", "0"], join(dir, "log/osd.0.stdout")));
  pids.push(spawnDaemon("radosgw", ["-f", "-c", conf, "-n", "client.rgw.local"], join(dir, "log/rgw.stdout")));

  const endpoint = `http://127.0.0.1:${rgwPort}`;
  // RGW creates its pools (a round of monitor commands each) before it listens.
  await waitFor("radosgw to answer HTTP", 120_000, async () => ((await fetch(endpoint).catch(() => null))?.ok ? true : undefined), () =>
    tail(join(dir, "log/client.rgw.local.log")),
  );
  const accessKeyId = `LOCAL${randomBytes(8).toString("hex").toUpperCase()}`;
  const secretAccessKey = randomBytes(24).toString("base64url");
  await run("radosgw-admin", [
    "-c", conf, "-n", "client.rgw.local", "user", "create", "--uid", "registry", "--display-name", "registry tests",
    "--access-key", accessKeyId, "--secret-key", secretAccessKey,
  ]);
  return { endpoint, accessKeyId, secretAccessKey, pids };
}

function cephConf(dir: string, fsid: string, monPort: number, rgwPort: number): string {
  return `[global]
fsid = ${fsid}
mon host = v1:127.0.0.1:${monPort}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr2 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
log file = ${dir}/log/$name.log
keyring = ${dir}/keyring
mon data = ${dir}/mon/$cluster-$id
osd data = ${dir}/osd/$cluster-$id
# One OSD holds every copy; small pools, so RGW's pools fit under the per-OSD PG cap.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
# The monitor batches changes for a second by default; RGW's start-up makes a dozen in a row.
paxos propose interval = 0.01
paxos min wait = 0.001
osd objectstore = memstore
memstore device bytes = ${8 * 1024 * 1024 * 1024}

[osd]
keyring = ${dir}/osd/$cluster-$id/keyring

[client.rgw.local]
keyring = ${dir}/rgw.keyring
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw dynamic resharding = false
# Deleted and aborted data is freed by RGW's garbage collector; memstore holds it in RAM until then.
rgw gc obj min wait = 60
rgw gc processor period = 60
`;
}

/** A keyring entry as ceph-authtool writes it, with a fresh AES key (struct ceph::CryptoKey, base64). */
function keyringEntry(entity: string, caps: Record<string, string>): string {
  const key = Buffer.alloc(12 + 16);
  key.writeUInt16LE(1, 0); // CEPH_CRYPTO_AES
  key.writeUInt32LE(Math.floor(Date.now() / 1000), 2);
  key.writeUInt32LE(0, 6);
  key.writeUInt16LE(16, 10);
  randomBytes(16).copy(key, 12);
  const capLines = Object.entries(caps).map(([service, cap]) => `\tcaps ${service} = "${cap}"\n`);
  return `[${entity}]\n\tkey = ${key.toString("base64")}\n${capLines.join("")}`;
}

async function tail(file: string, lines = 30): Promise<string> {
  const text = await readFile(file, "utf8").catch(() => "");
  return `last lines of ${file}:\n${text.split("\n").slice(-lines).join("\n")}`;
}
