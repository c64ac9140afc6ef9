/**
 * What the kernel knows about a server process (Linux /proc): memory and
 * storage I/O, read without cooperation from the process itself.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";

/** VmRSS and VmHWM (peak RSS) in bytes. */
export function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib("VmRSS"), hwm: kib("VmHWM") };
}

/** Resets VmHWM to the current RSS (Linux >= 4.0, root or the process owner). */
export function resetPeakRss(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, "5");
}

export interface IoCounters {
  /** Bytes passed to write(2) and friends, sockets and pipes included. */
  wchar: number;
  /** Bytes of page cache this process dirtied: what it caused to be written to storage. */
  writeBytes: number;
  /** Of writeBytes, bytes whose file was truncated or deleted before write-back. */
  cancelledWriteBytes: number;
}

export function ioOf(pid: number): IoCounters {
  const io = readFileSync(`/proc/${pid}/io`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)`, "m").exec(io)?.[1] ?? NaN);
  return { wchar: field("wchar"), writeBytes: field("write_bytes"), cancelledWriteBytes: field("cancelled_write_bytes") };
}

export function ioDelta(before: IoCounters, after: IoCounters): IoCounters {
  return {
    wchar: after.wchar - before.wchar,
    writeBytes: after.writeBytes - before.writeBytes,
    cancelledWriteBytes: after.cancelledWriteBytes - before.cancelledWriteBytes,
  };
}

/**
 * The process that really runs `scriptPath` among `root`'s descendants:
 * `npx node x.ts` starts npm, which starts a shell, which starts node.
 */
export function findDescendant(root: number, matches: (argv: string[]) => boolean): number | null {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while we looked.
    }
  }
  let found: number | null = null;
  const visit = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      try {
        const argv = readFileSync(`/proc/${child}/cmdline`, "utf8").split("\0").filter(Boolean);
        if (matches(argv)) found = child;
      } catch {
        continue;
      }
      visit(child);
    }
  };
  visit(root);
  return found;
}

/** Samples VmRSS every `intervalMs` until stopped; returns the largest seen. */
export function sampleRss(pid: number, intervalMs = 20): { stop: () => number } {
  let peak = 0;
  const take = () => {
    try {
      peak = Math.max(peak, memoryOf(pid).rss);
    } catch {
      // The process is gone; keep what we saw.
    }
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      return peak;
    },
  };
}
