/**
 * Prometheus metrics for the Node runtime, with prom-client (the usual Node
 * exposition library: metric types, label handling, text format and the
 * aggregation of node:cluster workers, which hand-written code would have to
 * get right again).
 *
 * Labels are route patterns, methods, statuses and outcomes: a bounded set,
 * and never a repository name, so a scrape reveals no names (routes/metrics.ts
 * says who may scrape). Under `npm start` with several processes every worker
 * keeps its own registry and the primary sums them on each scrape
 * (node-cluster.ts): counters and histograms add up, the uploads gauge (read
 * from the shared database) is taken from one worker.
 */
import promClient from "prom-client";
import type { CollectionReport } from "../lifecycle/collector.ts";
import { authOutcome, type RequestMetrics, type RequestRecord, trafficKind } from "./requests.ts";

const { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } = promClient;

export interface PrometheusOptions {
  /** Uploads open now (the shared database); absent on backends that cannot count them cheaply. */
  uploadsInProgress?: () => number;
}

export class PrometheusMetrics implements RequestMetrics {
  readonly registry = new Registry();
  readonly #requests;
  readonly #duration;
  readonly #pushed;
  readonly #pulled;
  readonly #auth;
  readonly #gcRuns;
  readonly #gcBytes;
  readonly #gcBlobs;
  readonly #events;

  /** Event delivery outcomes (observability/events/delivery.ts). */
  readonly eventDelivery = {
    delivered: (endpoint: string) => this.#events.inc({ endpoint, outcome: "delivered" }),
    failed: (endpoint: string) => this.#events.inc({ endpoint, outcome: "failed" }),
    dropped: (endpoint: string) => this.#events.inc({ endpoint, outcome: "dropped" }),
  };

  constructor(options: PrometheusOptions = {}) {
    const registers = [this.registry];
    this.#requests = new Counter({ name: "registry_http_requests_total", help: "HTTP requests answered, by method, route pattern and status.", labelNames: ["method", "route", "status"], registers });
    this.#duration = new Histogram({
      name: "registry_http_request_duration_seconds",
      help: "Time from the request's arrival to its answer's headers, by method and route pattern.",
      labelNames: ["method", "route"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.#pushed = new Counter({ name: "registry_pushed_bytes_total", help: "Request body bytes received by upload and manifest push routes.", registers });
    this.#pulled = new Counter({ name: "registry_pulled_bytes_total", help: "Bytes of blob and manifest GET answers (their Content-Length).", registers });
    this.#auth = new Counter({ name: "registry_auth_attempts_total", help: "Token endpoint requests by outcome (success: a token issued; failure: 401).", labelNames: ["outcome"], registers });
    this.#gcRuns = new Counter({ name: "registry_gc_runs_total", help: "Garbage collection runs (scheduled and POST /admin/gc), by outcome.", labelNames: ["outcome"], registers });
    this.#gcBytes = new Counter({ name: "registry_gc_reclaimed_bytes_total", help: "Bytes of blobs garbage collection deleted.", registers });
    this.#gcBlobs = new Counter({ name: "registry_gc_deleted_blobs_total", help: "Blobs garbage collection deleted.", registers });
    this.#events = new Counter({
      name: "registry_events_total",
      help: "Event (webhook) delivery attempts by endpoint name and outcome: delivered, failed (to be retried or dropped), dropped (no attempt left).",
      labelNames: ["endpoint", "outcome"],
      registers,
    });
    for (const outcome of ["success", "failure"]) {
      this.#auth.inc({ outcome }, 0);
      this.#gcRuns.inc({ outcome }, 0);
    }
    if (options.uploadsInProgress) {
      const count = options.uploadsInProgress;
      new Gauge({
        name: "registry_uploads_in_progress",
        help: "Blob uploads begun and not yet finished, cancelled or expired.",
        registers,
        // Every process reads the same database: summing would count each upload once per process.
        aggregator: "max",
        collect() {
          this.set(count());
        },
      });
    }
    collectDefaultMetrics({ register: this.registry, prefix: "registry_" });
  }

  requestFinished(record: RequestRecord): void {
    this.#requests.inc({ method: record.method, route: record.route, status: String(record.status) });
    this.#duration.observe({ method: record.method, route: record.route }, record.durationMs / 1000);
    const kind = trafficKind(record);
    if (kind === "push" && record.bytesIn > 0) this.#pushed.inc(record.bytesIn);
    if (kind === "pull" && record.status < 300 && record.bytesOut > 0) this.#pulled.inc(record.bytesOut);
    const outcome = authOutcome(record);
    if (outcome) this.#auth.inc({ outcome });
  }

  collectionFinished(report: CollectionReport | null): void {
    if (!report) return void this.#gcRuns.inc({ outcome: "failure" });
    if (report.dryRun) return;
    this.#gcRuns.inc({ outcome: "success" });
    this.#gcBytes.inc(report.bytesFreed);
    this.#gcBlobs.inc(report.blobsDeleted);
  }

  /** This process's metrics as exposition text. */
  async render(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  /** In a cluster worker: answer the primary's requests for this process's metrics. */
  shareWithPrimary(): void {
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([this.registry]);
  }
}

/** In the cluster's primary: every worker's metrics, summed. */
export function clusterMetrics(): () => Promise<{ contentType: string; text: string }> {
  const aggregator = new AggregatorRegistry();
  return async () => ({ contentType: aggregator.contentType, text: await aggregator.clusterMetrics() });
}
