/**
 * The pull-through cache on the Worker in workerd (R2 and Durable Objects, local), through
 * test/workers/start-worker.ts: the same cases as on Node, containerd's ctr included.
 */
import { ctrPullsThroughHostsToml } from "./ctr-mirror.ts";
import { mirrorSuite } from "./mirror-suite.ts";
import { startWorker } from "./upstreams.ts";

// Edge caching on, so every case also runs through the Cache API (a corrupt upstream blob must not land there either).
mirrorSuite("Workers (workerd, edge caching on)", (mirrors) => startWorker({ MIRRORS: mirrors, EDGE_CACHE_SECONDS: "3600" }), ctrPullsThroughHostsToml);
