/**
 * `npm run bench` options: command-line flags (after `--`), each with an
 * environment variable; a flag wins over its variable.
 */
import { cpus } from "node:os";
import { parseArgs } from "node:util";

export interface BenchOptions {
  /** Distribution binary: a path, or a command on PATH. */
  distribution: string;
  quick: boolean;
  keep: boolean;
  /** PROCESSES values to start our server with, one server each. */
  processes: number[];
  /** Where the JSON results go (relative to the repository root unless absolute). */
  results: string;
  /** Free text stored in the JSON, e.g. "other test suites ran on the machine meanwhile". */
  note: string | undefined;
}

export const USAGE = `usage: npm run bench [-- options]

  --distribution PATH   the CNCF Distribution binary to compare with      BENCH_DISTRIBUTION
                        (default: docker-registry, Debian's 2.8.2; e.g.
                        /work/shared/tools/distribution-v3/registry for 3.0.0)
  --processes LIST      PROCESSES values for our server, comma-separated  BENCH_PROCESSES
                        (default: 1,<cores>; one server each, side by side)
  --quick               small layers, 3 runs, 3 s loads (about 1.5 min)   BENCH_QUICK=1
  --keep                keep the temporary directory (data dirs, logs)    BENCH_KEEP=1
  --results FILE        where the JSON goes                               BENCH_RESULTS
                        (default: bench/results/latest.json)
  --note TEXT           stored in the JSON (e.g. what else ran meanwhile) BENCH_NOTE
  --help`;

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      distribution: { type: "string" },
      processes: { type: "string" },
      quick: { type: "boolean" },
      keep: { type: "boolean" },
      results: { type: "string" },
      note: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const cores = cpus().length;
  const processesText = values.processes ?? env.BENCH_PROCESSES ?? (cores > 1 ? `1,${cores}` : "1");
  const processes = [...new Set(processesText.split(",").map((item) => item.trim()).filter(Boolean).map(Number))];
  if (processes.length === 0 || processes.some((n) => !Number.isInteger(n) || n < 1 || n > 64)) {
    throw new Error(`--processes ${processesText}: expected whole numbers from 1 to 64, comma-separated`);
  }
  return {
    distribution: values.distribution ?? (env.BENCH_DISTRIBUTION || "docker-registry"),
    quick: values.quick ?? env.BENCH_QUICK === "1",
    keep: values.keep ?? env.BENCH_KEEP === "1",
    processes,
    results: values.results ?? (env.BENCH_RESULTS || "bench/results/latest.json"),
    note: values.note ?? (env.BENCH_NOTE || undefined),
  };
}
