/**
 * Samples the Worker isolate's memory through the DevTools inspector that
 * wrangler opens (test/workers/start-worker.ts with WORKER_INSPECTOR_PORT):
 * V8's heap in use plus ArrayBuffer backing stores, which is what a Worker's
 * 128 MB limit counts. Local workerd also runs wrangler's R2 and Durable
 * Object simulators, in other isolates of the same process, so the process's
 * RSS says little about the Worker itself; this does.
 *
 *   usage: node scripts/worker-heap.ts INSPECTOR_PORT     (until SIGTERM or SIGINT)
 *
 * Prints one line per second while the figure changes, and the peak at the end.
 */
const port = process.argv[2];
if (!port) {
  console.error("usage: node scripts/worker-heap.ts INSPECTOR_PORT");
  process.exit(2);
}

interface HeapUsage {
  usedSize: number;
  totalSize: number;
  backingStorageSize?: number;
}

const MiB = 1024 * 1024;
// The inspector proxy accepts DevTools from a localhost origin only.
const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { Origin: "http://localhost" } } as unknown as string[]);
await new Promise((resolve, reject) => {
  socket.addEventListener("open", resolve, { once: true });
  socket.addEventListener("error", reject, { once: true });
});

let nextId = 1;
const pending = new Map<number, (result: HeapUsage) => void>();
socket.addEventListener("message", (event) => {
  const message = JSON.parse(String(event.data)) as { id?: number; result?: HeapUsage };
  if (message.id !== undefined && message.result) pending.get(message.id)?.(message.result);
  if (message.id !== undefined) pending.delete(message.id);
});

function heapUsage(): Promise<HeapUsage> {
  const id = nextId++;
  return new Promise((resolve) => {
    pending.set(id, resolve);
    socket.send(JSON.stringify({ id, method: "Runtime.getHeapUsage" }));
  });
}

let peak = { total: 0, used: 0, backing: 0 };
let lastPrinted = 0;
let lastLine = "";
const started = Date.now();
const timer = setInterval(async () => {
  const usage = await heapUsage();
  const backing = usage.backingStorageSize ?? 0;
  const total = usage.usedSize + backing;
  if (total > peak.total) peak = { total, used: usage.usedSize, backing };
  const line = `${(total / MiB).toFixed(1)} MiB (heap ${(usage.usedSize / MiB).toFixed(1)}, array buffers ${(backing / MiB).toFixed(1)})`;
  if (Date.now() - lastPrinted >= 1000 && line !== lastLine) {
    console.log(`${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s  ${line}`);
    lastPrinted = Date.now();
    lastLine = line;
  }
}, 100);

const stop = () => {
  clearInterval(timer);
  console.log(`peak: ${(peak.total / MiB).toFixed(1)} MiB (heap ${(peak.used / MiB).toFixed(1)}, array buffers ${(peak.backing / MiB).toFixed(1)})`);
  socket.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
