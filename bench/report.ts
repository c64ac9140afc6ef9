/** The figures a bench run produces, as a table for people and JSON for tools. */

export interface Figure {
  id: string;
  label: string;
  unit: string;
  better: "higher" | "lower";
  ours: number;
  theirs: number | null;
  /** Human statement of the target, and whether this run met it. */
  target?: { text: string; met: boolean };
  /** Every sample behind a median, for the JSON. */
  samples?: { ours: number[]; theirs: number[] };
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

export function table(figures: Figure[]): string {
  const rows = figures.map((f) => {
    const r = ratio(f);
    return [
      `${f.label} (${f.unit})`,
      format(f.ours, f.unit),
      format(f.theirs, f.unit),
      r === null ? "-" : `${r.toFixed(2)}`,
      f.target ? `${f.target.met ? "met" : "MISSED"}: ${f.target.text}` : "",
    ];
  });
  const header = ["figure", "ours", "Distribution", "ours/theirs", "target"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 || i === 4 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i === 0 || i === 4 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
