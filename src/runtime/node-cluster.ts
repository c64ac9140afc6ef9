/**
 * Several Node processes serving one port (node:cluster): the primary forks
 * the workers, which share the listening socket and the DATA_DIR, restarts a
 * worker that dies, and stops them all on SIGINT/SIGTERM. It serves nothing
 * itself. Correctness across processes comes from the stores (SQLite
 * transactions and conditional updates, blob files renamed into place), not
 * from anything held here.
 */
import cluster, { type Worker } from "node:cluster";
import type { JWK } from "jose";

/** Primary → worker: what every worker needs that the primary decided. */
export interface WorkerSetup {
  type: "setup";
  /** The throwaway signing key when none is configured: one for all, so any process verifies any token. */
  ephemeralJwk?: JWK;
  /** Only one process runs the expiry sweep. */
  sweeps: boolean;
}

/** Worker → primary. */
export type WorkerReport =
  | { type: "setup-request" }
  | { type: "listening"; address: string; port: number; description: string }
  | { type: "listen-error"; message: string }
  /** GET /metrics reached this worker: the primary answers with every worker's metrics summed. */
  | { type: "metrics-request"; id: number };

/** Primary → worker, after setup. */
export type PrimaryMessage = { type: "metrics-response"; id: number; contentType?: string; text?: string; error?: string } | { type: "reload" };

const RESTARTS_PER_MINUTE = 10;
/** Workers exit by themselves when their grace period ends (node-shutdown.ts); this long after it, the primary kills what is left. */
const KILL_AFTER_GRACE_MS = 5_000;

export interface PrimaryOptions {
  /** How long workers may finish their requests after SIGTERM/SIGINT (shutdownGraceSeconds). */
  graceSeconds: number;
  ephemeralJwk?: JWK;
  announce(address: string, port: number, description: string): void;
  /** A worker process is gone (crashed or stopped): what it held can be released. */
  onWorkerExit?(pid: number): void;
  /** Just before the primary exits. */
  onExit?(): void;
  /** Every worker's metrics summed (prometheus.ts clusterMetrics). */
  metrics?(): Promise<{ contentType: string; text: string }>;
  /** SIGHUP: checks the new configuration (logging why when it is refused); true: the workers reload it. */
  checkReload?(): Promise<boolean>;
}

export function runPrimary(count: number, options: PrimaryOptions): void {
  let ready = false;
  let stopping = false;
  let listening = 0;
  const restarts: number[] = [];

  const fork = (index: number): Worker => {
    const worker = cluster.fork({ REGISTRY_WORKER_INDEX: String(index) });
    worker.on("message", (report: WorkerReport) => {
      // Asked for, not sent on "online": a message that arrives before the worker listens for it is lost (it was, on Node 22).
      if (report.type === "setup-request") {
        const setup: WorkerSetup = { type: "setup", sweeps: index === 0, ...(options.ephemeralJwk ? { ephemeralJwk: options.ephemeralJwk } : {}) };
        worker.send(setup);
      } else if (report.type === "metrics-request") {
        const answer = (message: PrimaryMessage) => worker.isConnected() && worker.send(message);
        if (!options.metrics) return void answer({ type: "metrics-response", id: report.id, error: "no metrics in this primary" });
        options.metrics().then(
          ({ contentType, text }) => answer({ type: "metrics-response", id: report.id, contentType, text }),
          (error: unknown) => answer({ type: "metrics-response", id: report.id, error: (error as Error).message }),
        );
      } else if (report.type === "listen-error") {
        console.error(report.message);
        stopAll(2);
      } else if (report.type === "listening" && !ready && ++listening === count) {
        ready = true;
        options.announce(report.address, report.port, `${report.description}, ${count} processes`);
      }
    });
    worker.on("exit", (code, signal) => {
      if (worker.process.pid !== undefined) options.onWorkerExit?.(worker.process.pid);
      if (stopping) return;
      if (!ready) {
        console.error(`a registry process exited during start-up (${signal ?? `exit code ${code}`}); see its message above`);
        stopAll(1);
        return;
      }
      const now = Date.now();
      restarts.push(now);
      while (restarts.length > 0 && restarts[0]! < now - 60_000) restarts.shift();
      if (restarts.length > RESTARTS_PER_MINUTE) {
        console.error(`registry processes died ${restarts.length} times in a minute; stopping. The messages above say why.`);
        stopAll(1);
        return;
      }
      console.error(`registry process ${worker.process.pid} stopped (${signal ?? `exit code ${code}`}); starting another`);
      fork(index);
    });
    return worker;
  };

  const stopAll = (exitCode: number) => {
    if (stopping) return;
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    for (const worker of workers) worker.process.kill("SIGTERM");
    const killAfterMs = options.graceSeconds * 1000 + KILL_AFTER_GRACE_MS;
    const deadline = setTimeout(() => {
      console.error(`registry processes still running ${killAfterMs / 1000} s after SIGTERM; killing them`);
      for (const worker of workers) worker.process.kill("SIGKILL");
    }, killAfterMs);
    deadline.unref();
    const exit = () => {
      options.onExit?.();
      process.exit(exitCode);
    };
    let left = workers.filter((w) => !w.isDead()).length;
    if (left === 0) exit();
    for (const worker of workers) {
      if (worker.isDead()) continue;
      worker.once("exit", () => {
        if (--left === 0) exit();
      });
    }
  };

  for (let index = 0; index < count; index++) fork(index);
  const stop = (signal: string) => {
    if (!stopping) console.log(`${signal}: stopping ${count} registry processes; requests in flight finish first (at most ${options.graceSeconds} s)`);
    stopAll(0);
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGHUP", () => {
    void (options.checkReload?.() ?? Promise.resolve(true)).then((ok) => {
      if (!ok || stopping) return;
      for (const worker of Object.values(cluster.workers ?? {})) if (worker?.isConnected()) worker.send({ type: "reload" } satisfies PrimaryMessage);
    });
  });
}

let metricsRequests = 0;

/** In a worker: the cluster's metrics, summed by the primary over every worker. */
export function metricsFromPrimary(): Promise<{ contentType: string; text: string }> {
  const id = ++metricsRequests;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.off("message", onMessage);
      reject(new Error("the primary process did not answer with metrics within 10 s"));
    }, 10_000);
    const onMessage = (message: PrimaryMessage) => {
      if (message?.type !== "metrics-response" || message.id !== id) return;
      clearTimeout(timer);
      process.off("message", onMessage);
      if (message.error !== undefined || message.text === undefined) reject(new Error(`metrics: ${message.error ?? "no text"}`));
      else resolve({ contentType: message.contentType ?? "text/plain; version=0.0.4; charset=utf-8", text: message.text });
    };
    process.on("message", onMessage);
    report({ type: "metrics-request", id });
  });
}

/** In a worker: calls `reload` when the primary says the configuration changed. */
export function onReloadRequest(reload: () => void): void {
  process.on("message", (message: PrimaryMessage) => {
    if (message?.type === "reload") reload();
  });
}

/** In a worker: waits for the primary's setup message. */
export function awaitSetup(): Promise<WorkerSetup> {
  return new Promise((resolve) => {
    const onMessage = (message: WorkerSetup) => {
      if (message?.type !== "setup") return;
      process.off("message", onMessage);
      resolve(message);
    };
    process.on("message", onMessage);
    report({ type: "setup-request" });
  });
}

export function report(message: WorkerReport): void {
  process.send?.(message);
}
