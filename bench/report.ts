/** The figures a bench run produces, as a table for people and JSON for tools. */

export interface Figure {
  id: string;
  label: string;
  unit: string;
  better: "higher" | "lower";
  /** Which of our servers: the PROCESSES it was started with, and how many processes served. */
  processes: { requested: number; serving: number };
  ours: number;
  theirs: number | null;
  /** Human statement of the target, and whether this run met it. */
  target?: { text: string; met: boolean };
  /** Every sample behind a median, for the JSON. */
  samples?: { ours: number[]; theirs: number[] };
  /** Supporting numbers for the JSON (CPU per request, pages per listing...). */
  detail?: Record<string, unknown>;
}

export function ratio(figure: Figure): number | null {
  return figure.theirs === null || figure.theirs === 0 ? null : figure.ours / figure.theirs;
}

function format(value: number | null, unit: string): string {
  if (value === null || Number.isNaN(value)) return "-";
  if (unit === "ms") return value.toFixed(value < 10 ? 2 : 1);
  if (unit === "x") return value.toFixed(3);
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

/** "2", or "2 (1 ran)" when the server did not start the processes it was asked for. */
export function processesCell(processes: Figure["processes"]): string {
  return processes.serving === processes.requested ? String(processes.requested) : `${processes.requested} (${processes.serving} ran)`;
}

/** A Markdown table; `theirs` names the comparison registry and version in its header. */
export function table(figures: Figure[], theirs: string): string {
  const rows = figures.map((f) => {
    const r = ratio(f);
    return [
      `${f.label} (${f.unit})`,
      processesCell(f.processes),
      format(f.ours, f.unit),
      format(f.theirs, f.unit),
      r === null ? "-" : `${r.toFixed(2)}`,
      f.target ? `${f.target.met ? "MET" : "MISSED"}: ${f.target.text}` : "",
    ];
  });
  const header = ["figure", "PROCESSES", "ours", theirs, `ours/${theirs}`, "target"];
  const left = (i: number) => i === 0 || i === header.length - 1;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (left(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (left(i) ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
