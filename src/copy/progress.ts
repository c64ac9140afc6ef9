/**
 * Progress of a copy: on a terminal, one bar per blob redrawn in place (at most 10 times a
 * second); otherwise plain lines when a blob starts, at each chunk and when it ends, so a CI
 * log shows what happened without control characters.
 */
import type { WriteStream } from "node:tty";
import { formatBytes } from "../core/format-bytes.ts";

export interface BlobProgress {
  /** Bytes the destination holds of this blob so far (goes back on a resume). */
  set(bytes: number): void;
  note(message: string): void;
  done(message: string): void;
}

export interface Progress {
  blob(label: string, total: number): BlobProgress;
  line(message: string): void;
  close(): void;
}

export function createProgress(out: NodeJS.WritableStream & Partial<Pick<WriteStream, "isTTY" | "columns">>, quiet: boolean): Progress {
  if (quiet) return { blob: () => ({ set() {}, note() {}, done() {} }), line() {}, close() {} };
  return out.isTTY ? terminalProgress(out as WriteStream) : plainProgress(out);
}

function plainProgress(out: NodeJS.WritableStream): Progress {
  return {
    blob(label, total) {
      out.write(`${label}: ${formatBytes(total)}\n`);
      return {
        set() {},
        note: (message) => void out.write(`${label}: ${message}\n`),
        done: (message) => void out.write(`${label}: ${message}\n`),
      };
    },
    line: (message) => void out.write(`${message}\n`),
    close() {},
  };
}

function terminalProgress(out: WriteStream): Progress {
  interface Row {
    label: string;
    total: number;
    bytes: number;
    message: string | undefined;
  }
  const rows: Row[] = [];
  let drawn = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const render = () => {
    timer = undefined;
    const width = Math.max(40, out.columns ?? 80);
    let text = drawn > 0 ? `\x1b[${drawn}A` : "";
    for (const row of rows) {
      const label = row.label.slice(0, 24).padEnd(24);
      let line: string;
      if (row.message !== undefined) line = `${label} ${row.message}`;
      else {
        const barWidth = Math.max(10, width - 24 - 32);
        const fraction = row.total > 0 ? Math.min(1, row.bytes / row.total) : 1;
        const filled = Math.round(barWidth * fraction);
        line = `${label} [${"=".repeat(filled)}${" ".repeat(barWidth - filled)}] ${formatBytes(row.bytes)} / ${formatBytes(row.total)}`;
      }
      text += `\x1b[2K${line.slice(0, width - 1)}\n`;
    }
    drawn = rows.length;
    out.write(text);
  };
  const schedule = () => {
    timer ??= setTimeout(render, 100);
  };
  return {
    blob(label, total) {
      const row: Row = { label, total, bytes: 0, message: undefined };
      rows.push(row);
      schedule();
      return {
        set(bytes) {
          row.bytes = bytes;
          schedule();
        },
        note() {},
        done(message) {
          row.message = message;
          schedule();
        },
      };
    },
    line(message) {
      // Printed above the bars, which are drawn again below it.
      if (timer) clearTimeout(timer);
      render();
      out.write(`\x1b[${drawn}A\x1b[2K${message}\n`);
      drawn = 0;
      render();
    },
    close() {
      if (timer) clearTimeout(timer);
      render();
    },
  };
}
