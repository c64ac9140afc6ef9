/**
 * The pull-through cache on the Worker in workerd (R2 and Durable Objects, local), through
 * test/workers/start-worker.ts: the same cases as on Node.
 */
import { mirrorSuite } from "./mirror-suite.ts";
import { startWorker } from "./upstreams.ts";

mirrorSuite("Workers (workerd)", (mirrors) => startWorker({ MIRRORS: mirrors }));
