/**
 * Crash consistency of the Node runtime on local disk: a real server process
 * (`node src/runtime/node.ts`) is killed with SIGKILL at a random moment of an
 * operation, restarted on the same DATA_DIR, and what it then serves is checked.
 *
 *   multi-tag manifest PUT (`PUT /v2/<name>/manifests/<digest>?tag=…`, 200 tags that
 *     all point at an earlier manifest): afterwards all 200 point at the new manifest
 *     or all still point where they did; a PUT answered 201 before the kill moved all
 *   digest DELETE of a manifest with 200 tags: afterwards the manifest and all its
 *     tags are gone, or the manifest and all its tags are there; a DELETE answered 202
 *     before the kill removed them
 *   chunked upload (POST, PATCHes with Content-Range, PUT ?digest=; every other kill aimed
 *     at the closing PUT alone): afterwards the
 *     upload answers GET with a Range at least as far as the last acknowledged PATCH and
 *     no further than the bytes sent, and resuming from it ends in 201 and the right
 *     bytes; or it answers 404 and the blob can be pushed again
 *   and after every restart: each listed tag GETs 200 with bytes hashing to its digest,
 *     each blob such a manifest names GETs 200 with its bytes, no answer is a 5xx, and
 *     every content-addressed blob file (DATA_DIR/blobs/blobs/sha256/<hex>-<write-id>) hashes to
 *     its name.
 *
 * The kill comes after a random delay within the operation's duration, measured
 * on three uninterrupted runs first (the shortest). The suite logs each kill, whether it landed
 * before the client had its answer ("mid-operation"), and what survived.
 *
 *   CRASH_SEED       replays the random choices of an earlier run (its log line gives the seed)
 *   CRASH_KILLS      kills per operation kind (default 6)
 *   CRASH_BUDGET_MS  after this long in one operation kind's test (default 6500), no
 *                    further kill starts once MIN_KILLS (4) are done: keeps the file well under a
 *                    minute on a loaded 2-core machine; the log says when it cut a loop short
 *   CRASH_PROCESSES  the PROCESSES values to run with, comma-separated (default "1,2")
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AnswerLog,
  call,
  getManifest,
  imageManifest,
  MiB,
  OCI_CONFIG,
  pathOf,
  pushBlob,
  putManifest,
  Random,
  type RegistryProcess,
  seedFrom,
  sha256,
  sleep,
  startRegistry,
  verifyRepository,
  withDigest,
} from "./server.ts";

const SEED = seedFrom(process.env.CRASH_SEED);
const KILLS = Number(process.env.CRASH_KILLS ?? "6");
const BUDGET_MS = Number(process.env.CRASH_BUDGET_MS ?? "6500");
const MIN_KILLS = Math.min(KILLS, 4);
const PROCESS_COUNTS = (process.env.CRASH_PROCESSES ?? "1,2").split(",").map(Number);
const TAGS = 200;
/** The smallest part size the registry allows, so an upload crosses several part boundaries. */
const PART_SIZE = 5 * MiB;

console.log(`crash suite: seed ${SEED} (CRASH_SEED=${SEED} replays its choices), ${KILLS} kills per operation, PROCESSES ${PROCESS_COUNTS.join(" and ")}`);

/** An answer this suite did not expect from a registry that was not killed at that moment. */
class UnexpectedAnswer extends Error {}

interface Interrupted<T> {
  /** Present when the operation completed (the client got its answers) before the kill. */
  value?: T;
  error?: Error;
}

interface Stats {
  kills: number;
  /** Kills that came before the client had the operation's final answer. */
  midOperation: number;
  [outcome: string]: number;
}

function summary(what: string, stats: Stats): string {
  const outcomes = Object.entries(stats)
    .filter(([key]) => key !== "kills" && key !== "midOperation")
    .map(([key, count]) => `${key} ${count}`)
    .join(", ");
  return `${what}: ${stats.kills} kills, ${stats.midOperation} mid-operation; ${outcomes}`;
}

/** Whether kill number `i` may start: always below MIN_KILLS, then only within BUDGET_MS of the test's start. */
function withinBudget(i: number, testStart: number, stats: Stats): boolean {
  if (i < MIN_KILLS || performance.now() - testStart < BUDGET_MS) return true;
  stats["stopped early (time budget)"] = i;
  return false;
}

function bump(stats: Stats, outcome: string): void {
  stats[outcome] = (stats[outcome] ?? 0) + 1;
}

describe.each(PROCESS_COUNTS)("registry killed with SIGKILL and restarted, PROCESSES=%i", (processes) => {
  const label = `PROCESSES=${processes}`;
  const random = new Random((SEED ^ Math.imul(processes, 0x9e3779b1)) >>> 0);
  const log = new AnswerLog();
  const started: RegistryProcess[] = [];
  const repositories: string[] = [];
  let dataDir = "";
  let registry: RegistryProcess;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "registry-crash-"));
    registry = await startRegistry({ dataDir, processes, env: { PART_SIZE: String(PART_SIZE) } });
    started.push(registry);
    console.log(`${label}: server pid ${registry.pid}, ${registry.processIds().length} process(es) in its group, ready after ${registry.readyAfterMs.toFixed(0)} ms`);
  });

  afterAll(async () => {
    if (log.serverErrors().length > 0) {
      for (const server of started) {
        if (/failed/i.test(server.output())) console.log(`output of server pid ${server.pid} (last 4 KiB):\n${server.output().slice(-4096)}`);
      }
    }
    await registry?.kill();
    const left = started.flatMap((r) => r.processIds());
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    expect(left, "server processes still alive after the suite").toEqual([]);
  });

  /** Runs `operation`, SIGKILLs the server's process group after `delayMs`, restarts it on the same DATA_DIR. */
  async function killDuring<T>(operation: () => Promise<T>, delayMs: number): Promise<Interrupted<T>> {
    const outcome: Promise<Interrupted<T>> = operation().then(
      (value) => ({ value }),
      (error: Error) => ({ error }),
    );
    await sleep(delayMs);
    await registry.kill();
    const result = await outcome;
    registry = await registry.restart();
    started.push(registry);
    return result;
  }

  /**
   * How long an operation takes, uninterrupted: the shortest of three runs (the first is often
   * much slower, still warming up; a kill later than the operation's end interrupts nothing). `run` does any preparation, then `timed(operation)`.
   */
  async function measure(run: (round: number, timed: (operation: () => Promise<void>) => Promise<void>) => Promise<void>): Promise<number> {
    const times: number[] = [];
    for (const round of [1, 2, 3]) {
      await run(round, async (operation) => {
        const t0 = performance.now();
        await operation();
        times.push(performance.now() - t0);
      });
    }
    if (times.length !== 3) throw new Error("measure: every round must time its operation once");
    return Math.min(...times);
  }

  function expectNoServerErrors(from: number): void {
    expect(log.serverErrors(from), "answers with a 5xx status").toEqual([]);
  }

  async function pushImageBlobs(repo: string) {
    const config = await pushBlob(registry, log, repo, Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } })), OCI_CONFIG);
    const layer = await pushBlob(registry, log, repo, new Random(SEED).bytes(4096));
    return { config, layer };
  }

  it(`a multi-tag manifest PUT (${TAGS} tags) killed midway moves all its tags or none`, async () => {
    const firstAnswer = log.answers.length;
    const testStart = performance.now();
    const repo = "crash/put";
    repositories.push(repo);
    const { config, layer } = await pushImageBlobs(repo);
    const tags = Array.from({ length: TAGS }, (_, i) => `t${String(i).padStart(3, "0")}`);
    const manifest = (name: string) => imageManifest(config, [layer], { "org.example.crash": `${label} seed ${SEED} PUT ${name}` });

    // Uninterrupted PUTs first: the tags then exist (a kill must leave all 200 where they were,
    // or move all 200), and their time bounds the kill delay.
    const duration = await measure(async (round, timed) => {
      const bytes = manifest(`warm-up ${round}`);
      await timed(async () => {
        const res = await putManifest(registry, log, repo, sha256(bytes), bytes, tags);
        expect(res.status, `warm-up PUT: ${res.text().slice(0, 300)}`).toBe(201);
      });
    });
    const first = await verifyRepository(registry, log, repo);
    expect(first.problems).toEqual([]);
    expect(first.tags.size).toBe(TAGS);
    let before = first.tags;

    const violations: string[] = [];
    const stats: Stats = { kills: 0, midOperation: 0 };
    for (let i = 0; i < KILLS && withinBudget(i, testStart, stats); i++) {
      const bytes = manifest(`#${i}`);
      const digest = sha256(bytes);
      const delay = random.next() * duration;
      const run = await killDuring(() => putManifest(registry, log, repo, digest, bytes, tags, { timeoutMs: 15_000 }), delay);
      const status = run.value?.status;
      stats.kills++;
      if (status === undefined) stats.midOperation++;

      const { tags: after, problems } = await verifyRepository(registry, log, repo);
      const byDigest = (await getManifest(registry, log, repo, digest)).status;
      let moved = 0;
      let unchanged = 0;
      const other: string[] = [];
      for (const tag of tags) {
        const now = after.get(tag);
        if (now === digest) moved++;
        else if (now === before.get(tag)) unchanged++;
        else other.push(`${tag}: ${before.get(tag) ?? "absent"} -> ${now ?? "absent"}`);
      }
      const what = `${label} PUT #${i} (kill ${delay.toFixed(0)} ms into a ~${duration.toFixed(0)} ms PUT, ${status === undefined ? "no answer: mid-operation" : `answered ${status}`})`;
      console.log(`${what}: after restart ${moved}/${TAGS} tags point at the new manifest, ${unchanged} where they were; GET by digest ${byDigest}`);
      bump(stats, moved === TAGS ? "all moved" : moved === 0 ? "none moved" : "PARTIAL");
      violations.push(...problems.map((p) => `${what}: ${p}`));
      if (moved !== 0 && moved !== TAGS) violations.push(`${what}: ${moved} of its ${TAGS} tags point at the new manifest and ${unchanged} at the one before: not all or nothing`);
      if (status === 201 && moved !== TAGS) violations.push(`${what}: the client got 201, yet only ${moved} of ${TAGS} tags point at the manifest`);
      if (status !== undefined && status !== 201) violations.push(`${what}: a PUT of a valid manifest answered ${status}: ${run.value!.text().slice(0, 200)}`);
      if (other.length > 0) violations.push(`${what}: ${other.length} tags point at neither the old nor the new manifest, e.g. ${other.slice(0, 3).join("; ")}`);
      before = after;
    }
    console.log(summary(`${label} multi-tag PUT`, stats));
    expect(stats.midOperation, "kills that landed before the client had its answer").toBeGreaterThan(0);
    expect(violations).toEqual([]);
    expectNoServerErrors(firstAnswer);
  });

  it(`a digest DELETE of a manifest with ${TAGS} tags killed midway removes the manifest and all its tags, or nothing`, async () => {
    const firstAnswer = log.answers.length;
    const testStart = performance.now();
    const tags = Array.from({ length: TAGS }, (_, i) => `d${String(i).padStart(3, "0")}`);
    /** A repository holding one manifest with the 200 tags, nothing else. */
    const prepare = async (name: string) => {
      const repo = `crash/delete-${name}`;
      repositories.push(repo);
      const { config, layer } = await pushImageBlobs(repo);
      const bytes = imageManifest(config, [layer], { "org.example.crash": `${label} seed ${SEED} DELETE ${name}` });
      const digest = sha256(bytes);
      const res = await putManifest(registry, log, repo, digest, bytes, tags);
      expect(res.status, `PUT before the DELETE: ${res.text().slice(0, 300)}`).toBe(201);
      return { repo, digest };
    };

    const duration = await measure(async (round, timed) => {
      const { repo, digest } = await prepare(`warm-up-${round}`);
      await timed(async () => {
        const res = await call(registry, log, "DELETE", `/v2/${repo}/manifests/${digest}`);
        expect(res.status, `warm-up DELETE: ${res.text().slice(0, 300)}`).toBe(202);
      });
    });

    const violations: string[] = [];
    const stats: Stats = { kills: 0, midOperation: 0 };
    for (let i = 0; i < KILLS && withinBudget(i, testStart, stats); i++) {
      const { repo, digest } = await prepare(String(i));
      const delay = random.next() * duration;
      const run = await killDuring(() => call(registry, log, "DELETE", `/v2/${repo}/manifests/${digest}`, { timeoutMs: 15_000 }), delay);
      const status = run.value?.status;
      stats.kills++;
      if (status === undefined) stats.midOperation++;

      const { tags: after, problems } = await verifyRepository(registry, log, repo);
      const byDigest = await getManifest(registry, log, repo, digest);
      const left = tags.filter((tag) => after.get(tag) === digest).length;
      const strangers = [...after.keys()].filter((tag) => after.get(tag) !== digest);
      const what = `${label} DELETE #${i} (kill ${delay.toFixed(0)} ms into a ~${duration.toFixed(0)} ms DELETE, ${status === undefined ? "no answer: mid-operation" : `answered ${status}`})`;
      console.log(`${what}: after restart GET by digest ${byDigest.status}, ${left}/${TAGS} tags left`);
      violations.push(...problems.map((p) => `${what}: ${p}`));
      if (byDigest.status === 404) {
        bump(stats, left === 0 ? "all removed" : "PARTIAL");
        if (left > 0) violations.push(`${what}: the manifest is gone but ${left} of its ${TAGS} tags are left`);
      } else if (byDigest.status === 200) {
        bump(stats, left === TAGS ? "nothing removed" : "PARTIAL");
        if (left !== TAGS) violations.push(`${what}: the manifest is still there with ${left} of its ${TAGS} tags: not all or nothing`);
        if (status === 202) violations.push(`${what}: the client got 202, yet the manifest is still there`);
      } else {
        violations.push(`${what}: GET by digest answered ${byDigest.status} ${byDigest.text().slice(0, 200)}`);
      }
      if (status !== undefined && status !== 202) violations.push(`${what}: the DELETE answered ${status}: ${run.value!.text().slice(0, 200)}`);
      if (strangers.length > 0) violations.push(`${what}: tags that were never pushed appeared: ${strangers.slice(0, 5).join(", ")}`);
    }
    console.log(summary(`${label} digest DELETE`, stats));
    expect(stats.midOperation, "kills that landed before the client had its answer").toBeGreaterThan(0);
    expect(violations).toEqual([]);
    expectNoServerErrors(firstAnswer);
  });

  it("a chunked upload killed midway resumes from the Range it reports, or answers 404 and can be pushed again", async () => {
    const firstAnswer = log.answers.length;
    const testStart = performance.now();
    const repo = "crash/upload";
    repositories.push(repo);

    interface Progress {
      location?: string;
      /** Bytes the registry acknowledged (Range of the last 202). */
      acked: number;
      /** Bytes sent or being sent. */
      offered: number;
      putStatus?: number;
    }
    /** 10 to 11 MiB in PATCHes of 1 to 3 MiB: two 5 MiB parts and a tail. */
    const plan = () => {
      const data = random.bytes(10 * MiB + random.int(1, MiB));
      const chunks: number[] = [];
      for (let left = data.length; left > 0; ) {
        const size = Math.min(left, random.int(1 * MiB, 3 * MiB));
        chunks.push(size);
        left -= size;
      }
      return { data, digest: sha256(data), chunks };
    };
    const expectStatus = (what: string, res: { status: number; text(): string }, status: number) => {
      if (res.status !== status) throw new UnexpectedAnswer(`${what}: expected ${status}, got ${res.status} ${res.text().slice(0, 300)}`);
    };
    /** POST, a PATCH per chunk, PUT ?digest=; `progress` says how far it got. */
    /** POST and a PATCH per chunk. */
    const send = async (data: Buffer, chunks: number[], progress: Progress) => {
      const post = await call(registry, log, "POST", `/v2/${repo}/blobs/uploads/`);
      expectStatus("POST", post, 202);
      progress.location = post.header("location");
      let offset = 0;
      for (const size of chunks) {
        progress.offered = offset + size;
        const patch = await call(registry, log, "PATCH", pathOf(progress.location!), {
          body: data.subarray(offset, offset + size),
          headers: { "content-type": "application/octet-stream", "content-range": `${offset}-${offset + size - 1}` },
          timeoutMs: 15_000,
        });
        expectStatus(`PATCH ${offset}-${offset + size - 1}`, patch, 202);
        offset += size;
        progress.acked = offset;
        progress.location = patch.header("location") ?? progress.location;
      }
    };
    /** PUT ?digest= closing the upload; its time goes to `putTimes`. */
    const putTimes: number[] = [];
    const close = async (digest: string, progress: Progress) => {
      const t0 = performance.now();
      const put = await call(registry, log, "PUT", withDigest(progress.location!, digest), { timeoutMs: 15_000 });
      putTimes.push(performance.now() - t0);
      progress.putStatus = put.status;
      expectStatus("PUT ?digest=", put, 201);
    };
    const upload = async (data: Buffer, digest: string, chunks: number[], progress: Progress) => {
      await send(data, chunks, progress);
      await close(digest, progress);
    };
    /** The blob GETs 200 with exactly `data`; else a description of what it answered. */
    const blobProblem = async (digest: string, data: Buffer): Promise<string | null> => {
      const res = await call(registry, log, "GET", `/v2/${repo}/blobs/${digest}`);
      if (res.status !== 200) return `GET blob answered ${res.status} ${res.text().slice(0, 200)}`;
      if (res.body.byteLength !== data.length || sha256(res.body) !== digest) return `GET blob returned ${res.body.byteLength} bytes hashing to ${sha256(res.body)}`;
      return null;
    };

    const duration = await measure(async (_round, timed) => {
      const { data, digest, chunks } = plan();
      await timed(() => upload(data, digest, chunks, { acked: 0, offered: 0 }));
      expect(await blobProblem(digest, data)).toBeNull();
    });
    const putDuration = Math.min(...putTimes);

    const violations: string[] = [];
    const stats: Stats = { kills: 0, midOperation: 0 };
    for (let i = 0; i < KILLS && withinBudget(i, testStart, stats); i++) {
      const { data, digest, chunks } = plan();
      const progress: Progress = { acked: 0, offered: 0 };
      // Every other kill aims at the closing PUT alone (the multipart completion and the records
      // that follow it); the others anywhere from the POST to the PUT's answer.
      const atPut = i % 2 === 1;
      if (atPut) await send(data, chunks, progress);
      const delay = random.next() * (atPut ? putDuration : duration);
      const run = await killDuring(() => (atPut ? close(digest, progress) : upload(data, digest, chunks, progress)), delay);
      stats.kills++;
      if (run.error instanceof UnexpectedAnswer) violations.push(`${label} upload #${i} before the kill: ${run.error.message}`);
      if (run.error && !(run.error instanceof UnexpectedAnswer)) stats.midOperation++;
      const state = progress.putStatus !== undefined ? `PUT answered ${progress.putStatus}` : progress.location ? `${progress.acked} of ${data.length} bytes acknowledged, ${progress.offered} sent` : "POST not answered";
      const target = atPut ? `the closing PUT (~${putDuration.toFixed(0)} ms) of an upload of ${chunks.length} PATCHes` : `a ~${duration.toFixed(0)} ms upload of ${chunks.length} PATCHes`;
      const what = `${label} upload #${i} (kill ${delay.toFixed(0)} ms into ${target}; ${state})`;

      try {
        if (progress.putStatus === 201) {
          bump(stats, "finished before the kill");
          const problem = await blobProblem(digest, data);
          if (problem) violations.push(`${what}: the PUT answered 201, but ${problem}`);
          console.log(`${what}: finished before the kill`);
          continue;
        }
        const status = progress.location ? await call(registry, log, "GET", pathOf(progress.location)) : null;
        if (status?.status === 204) {
          const range = /^0-(\d+)$/.exec(status.header("range") ?? "");
          if (!range) {
            violations.push(`${what}: GET on the upload answered 204 with Range "${status.header("range")}", not 0-<end>`);
            continue;
          }
          // Range 0-0 is also what a registry answers before any byte (no PATCH here sends fewer than 1 MiB).
          const kept = Number(range[1]) === 0 ? 0 : Number(range[1]) + 1;
          console.log(`${what}: after restart the upload has ${kept} bytes; resuming`);
          if (kept < progress.acked) violations.push(`${what}: the upload reports ${kept} bytes after the restart, fewer than the ${progress.acked} acknowledged`);
          if (kept > progress.offered) violations.push(`${what}: the upload reports ${kept} bytes, more than the ${progress.offered} sent`);
          let location = status.header("location") ?? progress.location!;
          if (kept < data.length) {
            const patch = await call(registry, log, "PATCH", pathOf(location), {
              body: data.subarray(kept),
              headers: { "content-type": "application/octet-stream", "content-range": `${kept}-${data.length - 1}` },
            });
            if (patch.status !== 202) {
              violations.push(`${what}: resuming with PATCH ${kept}-${data.length - 1} answered ${patch.status} ${patch.text().slice(0, 200)}`);
              continue;
            }
            location = patch.header("location") ?? location;
          }
          const put = await call(registry, log, "PUT", withDigest(location, digest));
          if (put.status !== 201 || put.header("docker-content-digest") !== digest) {
            violations.push(`${what}: PUT ?digest= after resuming answered ${put.status} (Docker-Content-Digest ${put.header("docker-content-digest")}) ${put.text().slice(0, 200)}`);
            continue;
          }
          const problem = await blobProblem(digest, data);
          if (problem) violations.push(`${what}: resumed and PUT 201, but ${problem}`);
          bump(stats, "resumed");
        } else if (status === null || (status.status === 404 && status.errorCodes().includes("BLOB_UPLOAD_UNKNOWN"))) {
          // Unknown upload: nothing to resume (the POST never answered, or the upload finished or was lost).
          const head = await call(registry, log, "HEAD", `/v2/${repo}/blobs/${digest}`);
          if (head.status === 200) {
            const problem = await blobProblem(digest, data);
            if (problem) violations.push(`${what}: the upload is gone and the blob is there, but ${problem}`);
          } else if (head.status !== 404) {
            violations.push(`${what}: HEAD blob answered ${head.status}`);
          }
          console.log(`${what}: after restart ${status ? "the upload answers 404" : "no upload to ask about"}, blob HEAD ${head.status}; pushing it again`);
          await upload(data, digest, chunks, { acked: 0, offered: 0 });
          const problem = await blobProblem(digest, data);
          if (problem) violations.push(`${what}: pushed again with 201, but ${problem}`);
          bump(stats, status ? "404, pushed again" : "not started, pushed again");
        } else {
          violations.push(`${what}: GET on the upload answered ${status.status} ${status.text().slice(0, 200)}`);
        }
      } catch (error) {
        if (!(error instanceof UnexpectedAnswer)) throw error;
        violations.push(`${what}: ${error.message}`);
      }
    }
    console.log(summary(`${label} chunked upload`, stats));
    expect(stats.midOperation, "kills that landed before the client had its answer").toBeGreaterThan(0);
    expect(violations).toEqual([]);
    expectNoServerErrors(firstAnswer);
  });

  it("after all the restarts every tag resolves to whole content, every content-addressed blob file hashes to its name, and no answer was a 5xx", async () => {
    const problems: string[] = [];
    for (const repo of repositories) problems.push(...(await verifyRepository(registry, log, repo)).problems);
    expect(problems).toEqual([]);

    // The filesystem blob store keeps key blobs/sha256/<hex>-<write-id> at DATA_DIR/blobs/blobs/sha256/<hex>-<write-id>
    // (core/storage-layout.ts): written to .tmp/, verified, renamed, so a crash never leaves a partial one.
    const dir = join(dataDir, "blobs", "blobs", "sha256");
    const files = await readdir(dir);
    expect(files.length, `content-addressed blob files in ${dir}`).toBeGreaterThan(0);
    const wrong: string[] = [];
    for (const file of files) {
      const actual = sha256(await readFile(join(dir, file)));
      if (actual !== `sha256:${file.split("-")[0]}`) wrong.push(`${file} hashes to ${actual}`);
    }
    expect(wrong).toEqual([]);
    expectNoServerErrors(0);
    console.log(`${label}: ${started.length} server starts, ${log.answers.length} answers, none a 5xx; ${files.length} blob files verified`);
  });
});
