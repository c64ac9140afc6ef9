/**
 * What the kernel knows about a server (Linux /proc): memory, CPU time and
 * storage I/O, read without cooperation from the server itself.
 *
 * A server is a process TREE: the process the bench started and all its
 * descendants (a node:cluster primary and its workers; Distribution is one Go
 * process). Every figure here is summed over the tree, read afresh each time,
 * so workers started or restarted after launch are counted too.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";

/** `ps`-like view of one process: its parent, process group and state. */
interface ProcStat {
  pid: number;
  ppid: number;
  pgrp: number;
  state: string;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
}

/** Clock ticks per second for /proc/<pid>/stat times (USER_HZ: 100 on every Linux this runs on). */
const TICKS_PER_SECOND = 100;

function statOf(pid: number | string): ProcStat | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name (which may contain spaces):
    // 3 state, 4 ppid, 5 pgrp, ..., 14 utime, 15 stime.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { pid: Number(pid), state: rest[0]!, ppid: Number(rest[1]), pgrp: Number(rest[2]), cpuTicks: Number(rest[11]) + Number(rest[12]) };
  } catch {
    return null; // Gone while we looked.
  }
}

function allProcesses(): ProcStat[] {
  const all: ProcStat[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = statOf(entry);
    if (stat) all.push(stat);
  }
  return all;
}

/** `root` and all its living descendants (zombies excluded), root first. */
export function treeOf(root: number): number[] {
  const children = new Map<number, number[]>();
  let rootAlive = false;
  for (const p of allProcesses()) {
    if (p.state === "Z") continue;
    if (p.pid === root) rootAlive = true;
    children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  }
  if (!rootAlive) return [];
  const tree: number[] = [];
  const visit = (pid: number) => {
    tree.push(pid);
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(root);
  return tree;
}

/** Living (non-zombie) members of process group `pgid`. */
export function groupMembers(pgid: number): number[] {
  return allProcesses()
    .filter((p) => p.pgrp === pgid && p.state !== "Z")
    .map((p) => p.pid);
}

export interface TreeMemory {
  /** Sum of VmRSS: shared pages (the node binary's code) count once per process. */
  rss: number;
  /** Sum of VmHWM (each process's peak RSS since its last reset). */
  hwm: number;
  processes: number;
}

function statusMemory(pid: number): { rss: number; hwm: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kib("VmRSS"), hwm: kib("VmHWM") };
  } catch {
    return null;
  }
}

/** VmRSS and VmHWM summed over the tree, in bytes. */
export function memoryOfTree(root: number, pids: number[] = treeOf(root)): TreeMemory {
  let rss = 0;
  let hwm = 0;
  let processes = 0;
  for (const pid of pids) {
    const m = statusMemory(pid);
    if (!m) continue;
    rss += m.rss;
    hwm += m.hwm;
    processes++;
  }
  return { rss, hwm, processes };
}

/**
 * Proportional set size summed over the tree, in bytes: each shared page is
 * split between the processes mapping it, so N node processes sharing one
 * binary count its code once in total, not N times as RSS does.
 */
export function pssOfTree(root: number): number {
  let pss = 0;
  for (const pid of treeOf(root)) {
    try {
      pss += Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0) * 1024;
    } catch {
      // Gone.
    }
  }
  return pss;
}

/** Resets VmHWM to the current RSS in every process of the tree (Linux >= 4.0, root or the owner). */
export function resetPeakRss(root: number): void {
  for (const pid of treeOf(root)) {
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, "5");
    } catch {
      // Gone.
    }
  }
}

/**
 * Samples the tree's summed VmRSS every `intervalMs` until stopped; returns
 * the largest sum seen. The tree is re-read every second, so a worker forked
 * during the sample is included.
 */
export function sampleTreeRss(root: number, intervalMs = 20): { stop: () => number } {
  let peak = 0;
  let pids = treeOf(root);
  let lastScan = Date.now();
  const take = () => {
    if (Date.now() - lastScan > 1000) {
      pids = treeOf(root);
      lastScan = Date.now();
    }
    peak = Math.max(peak, memoryOfTree(root, pids).rss);
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

/** Per-process counters of a tree at one moment, to subtract later. */
export type TreeCounters = Map<number, number>;

/**
 * The difference between two snapshots, summed over processes: a process
 * present only in `after` counts from zero; one that ended in between is lost
 * (and reported, so a crashing worker does not go unnoticed).
 */
function delta(before: TreeCounters, after: TreeCounters): { total: number; ended: number[] } {
  let total = 0;
  for (const [pid, value] of after) total += value - (before.get(pid) ?? 0);
  const ended = [...before.keys()].filter((pid) => !after.has(pid));
  return { total, ended };
}

/** CPU time (user + system) of each process of the tree, in clock ticks. */
export function cpuOfTree(root: number): TreeCounters {
  const counters: TreeCounters = new Map();
  for (const pid of treeOf(root)) {
    const stat = statOf(pid);
    if (stat) counters.set(pid, stat.cpuTicks);
  }
  return counters;
}

export function cpuSeconds(before: TreeCounters, after: TreeCounters): { seconds: number; ended: number[] } {
  const d = delta(before, after);
  return { seconds: d.total / TICKS_PER_SECOND, ended: d.ended };
}

/**
 * `write_bytes` from /proc/<pid>/io of each process of the tree: bytes of page
 * cache the process dirtied, i.e. what it caused to be written to storage
 * (files deleted or overwritten before write-back still count; renames count nothing).
 */
export function writesOfTree(root: number): TreeCounters {
  const counters: TreeCounters = new Map();
  for (const pid of treeOf(root)) {
    try {
      const io = readFileSync(`/proc/${pid}/io`, "utf8");
      counters.set(pid, Number(/^write_bytes: (\d+)/m.exec(io)?.[1] ?? NaN));
    } catch {
      // Gone.
    }
  }
  return counters;
}

export function writtenBytes(before: TreeCounters, after: TreeCounters): { bytes: number; ended: number[] } {
  const d = delta(before, after);
  return { bytes: d.total, ended: d.ended };
}
