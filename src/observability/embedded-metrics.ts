/**
 * Request metrics on AWS Lambda: CloudWatch Embedded Metric Format. One JSON
 * line per request on stdout, which CloudWatch Logs turns into metrics in the
 * `OciRegistry` namespace (Requests, Latency, BytesIn, BytesOut, by Route and
 * by Route+Status), with no agent and no PutMetricData call. The request's
 * log line itself is written by the logger; this line carries the metrics.
 */
import type { DeliveryMetrics } from "./events/delivery.ts";
import { authOutcome, type RequestMetrics, type RequestRecord, trafficKind } from "./requests.ts";

export const EMF_NAMESPACE = "OciRegistry";

export function embeddedMetricLine(record: RequestRecord, now = Date.now()): string {
  const auth = authOutcome(record);
  return JSON.stringify({
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [
        {
          Namespace: EMF_NAMESPACE,
          Dimensions: [["Route"], ["Route", "Status"]],
          Metrics: [
            { Name: "Requests", Unit: "Count" },
            { Name: "Latency", Unit: "Milliseconds" },
            { Name: "BytesIn", Unit: "Bytes" },
            { Name: "BytesOut", Unit: "Bytes" },
            ...(auth ? [{ Name: auth === "success" ? "AuthSuccesses" : "AuthFailures", Unit: "Count" }] : []),
          ],
        },
      ],
    },
    Route: record.route,
    Status: String(record.status),
    Kind: trafficKind(record),
    Requests: 1,
    Latency: record.durationMs,
    BytesIn: record.bytesIn,
    BytesOut: record.bytesOut,
    ...(auth ? { [auth === "success" ? "AuthSuccesses" : "AuthFailures"]: 1 } : {}),
    requestId: record.requestId,
  });
}

export class EmbeddedMetrics implements RequestMetrics {
  readonly #write: (line: string) => void;

  constructor(write: (line: string) => void) {
    this.#write = write;
  }

  requestFinished(record: RequestRecord): void {
    this.#write(embeddedMetricLine(record));
  }
}

/** Event (webhook) delivery outcomes as EMF: metric `EventsDelivered`, `EventsFailed` or `EventsDropped` by `Endpoint` (its configured name). */
export function embeddedEventLine(endpoint: string, outcome: "delivered" | "failed" | "dropped", now = Date.now()): string {
  const name = outcome === "delivered" ? "EventsDelivered" : outcome === "failed" ? "EventsFailed" : "EventsDropped";
  return JSON.stringify({
    _aws: { Timestamp: now, CloudWatchMetrics: [{ Namespace: EMF_NAMESPACE, Dimensions: [["Endpoint"]], Metrics: [{ Name: name, Unit: "Count" }] }] },
    Endpoint: endpoint,
    [name]: 1,
  });
}

export function embeddedDeliveryMetrics(write: (line: string) => void): DeliveryMetrics {
  return {
    delivered: (endpoint) => write(embeddedEventLine(endpoint, "delivered")),
    failed: (endpoint) => write(embeddedEventLine(endpoint, "failed")),
    dropped: (endpoint) => write(embeddedEventLine(endpoint, "dropped")),
  };
}
