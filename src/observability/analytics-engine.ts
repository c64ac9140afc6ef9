/**
 * Request metrics on Cloudflare Workers: one Workers Analytics Engine data point
 * per request, written only when an `analytics_engine_datasets` binding is
 * configured (wrangler.toml). Query them with the SQL API
 * (docs/workers.md): blob1 method, blob2 route pattern, blob3 status,
 * blob4 traffic kind (push, pull, other), blob5 token outcome (success,
 * failure or empty); double1 duration in ms, double2 bytes in, double3 bytes
 * out; index1 the route pattern (the sampling key). No repository name.
 */
import type { DeliveryMetrics } from "./events/delivery.ts";
import { authOutcome, type RequestMetrics, type RequestRecord, trafficKind } from "./requests.ts";

/** The part of Cloudflare's AnalyticsEngineDataset binding used here. */
export interface AnalyticsDataset {
  writeDataPoint(point: { indexes?: string[]; blobs?: string[]; doubles?: number[] }): void;
}

export class AnalyticsEngineMetrics implements RequestMetrics {
  readonly #dataset: AnalyticsDataset;

  constructor(dataset: AnalyticsDataset) {
    this.#dataset = dataset;
  }

  requestFinished(record: RequestRecord): void {
    this.#dataset.writeDataPoint({
      indexes: [record.route.slice(0, 96)],
      blobs: [record.method, record.route, String(record.status), trafficKind(record), authOutcome(record) ?? ""],
      doubles: [record.durationMs, record.bytesIn, record.bytesOut],
    });
  }
}

/**
 * Event (webhook) delivery outcomes as data points of their own: index1 `event`, blob1 `event`,
 * blob2 the endpoint's configured name, blob3 the outcome (delivered, failed, dropped); double1 1.
 */
export function analyticsDeliveryMetrics(dataset: AnalyticsDataset): DeliveryMetrics {
  const point = (endpoint: string, outcome: string) => dataset.writeDataPoint({ indexes: ["event"], blobs: ["event", endpoint.slice(0, 96), outcome], doubles: [1] });
  return {
    delivered: (endpoint) => point(endpoint, "delivered"),
    failed: (endpoint) => point(endpoint, "failed"),
    dropped: (endpoint) => point(endpoint, "dropped"),
  };
}
