/**
 * A strict parser of the Prometheus text exposition format 0.0.4: it throws on
 * any line the format does not allow (a sample before its family's TYPE, a bad
 * label escape, a value that is not a number, a HELP or TYPE given twice, a
 * histogram whose buckets decrease or whose +Inf bucket differs from _count),
 * so a test that parses the text proves it is well formed.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SUFFIXES: Record<Family["type"], string[]> = { counter: [""], gauge: [""], untyped: [""], histogram: ["_bucket", "_sum", "_count"], summary: ["", "_sum", "_count"] };

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  if (!text.endsWith("\n")) throw new Error("the exposition must end with a newline");
  const lines = text.slice(0, -1).split("\n");
  lines.forEach((line, index) => {
    const where = `line ${index + 1} (${JSON.stringify(line.slice(0, 120))})`;
    if (line === "") return;
    if (line.startsWith("#")) {
      const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!meta) {
        if (/^# (HELP|TYPE)\b/.test(line)) throw new Error(`${where}: malformed ${line.slice(2, 6)}`);
        return; // a comment
      }
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name`);
      const family = families.get(name) ?? { name, type: "untyped" as Family["type"], help: "", samples: [], typed: false };
      if (kind === "TYPE") {
        if (!(rest in SUFFIXES)) throw new Error(`${where}: unknown type ${rest}`);
        if ((family as { typed?: boolean }).typed || family.samples.length > 0) throw new Error(`${where}: TYPE after samples or given twice`);
        family.type = rest as Family["type"];
        (family as { typed?: boolean }).typed = true;
      } else {
        if (family.help !== "") throw new Error(`${where}: HELP given twice`);
        family.help = rest;
      }
      families.set(name, family);
      return;
    }
    const sample = parseSample(line, where);
    const family = [...families.values()].find((f) => SUFFIXES[f.type].some((suffix) => f.name + suffix === sample.name));
    if (!family) throw new Error(`${where}: sample of no declared family`);
    family.samples.push(sample);
  });
  for (const family of families.values()) {
    delete (family as { typed?: boolean }).typed;
    if (family.type === "histogram") checkHistogram(family);
  }
  return families;
}

function parseSample(line: string, where: string): Sample {
  const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
  if (!match) throw new Error(`${where}: not a sample line`);
  const labels: Record<string, string> = {};
  let rest = match[3] ?? "";
  while (rest !== "") {
    const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
    if (!label) throw new Error(`${where}: malformed labels at ${JSON.stringify(rest.slice(0, 40))}`);
    if (label[1]! in labels) throw new Error(`${where}: label ${label[1]} repeated`);
    labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    rest = rest.slice(label[0].length);
  }
  const raw = match[4]!;
  const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : raw === "NaN" ? NaN : Number(raw);
  if (!/^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/.test(raw)) throw new Error(`${where}: value ${raw} is not a number`);
  return { name: match[1]!, labels, value };
}

function checkHistogram(family: Family): void {
  const series = new Map<string, Sample[]>();
  for (const sample of family.samples) {
    const { le: _le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    series.set(key, [...(series.get(key) ?? []), sample]);
  }
  for (const [key, samples] of series) {
    const buckets = samples.filter((s) => s.name.endsWith("_bucket"));
    const count = samples.find((s) => s.name.endsWith("_count"));
    let last = -Infinity;
    let previous = 0;
    for (const bucket of buckets) {
      const le = bucket.labels.le === "+Inf" ? Infinity : Number(bucket.labels.le);
      if (!(le > last) || bucket.value < previous) throw new Error(`${family.name} ${key}: buckets out of order or decreasing`);
      last = le;
      previous = bucket.value;
    }
    if (last !== Infinity || !count || count.value !== previous) throw new Error(`${family.name} ${key}: no +Inf bucket equal to _count`);
  }
}

/** The sum of a family's samples whose labels include `labels`. */
export function total(families: Map<string, Family>, name: string, labels: Record<string, string> = {}, sampleName = name): number {
  const family = families.get(name);
  if (!family) throw new Error(`no metric family ${name}`);
  return family.samples.filter((s) => s.name === sampleName && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}
