/**
 * Sizes for people, in binary units (KiB = 1024 B), as the CLI tools (`copy`, `gc`, `usage`)
 * and the web pages write them. Bytes below 1 KiB are written whole ("512 B").
 */

export interface ByteFormat {
  /**
   * `"one"` (the default): always one decimal, "15.0 MiB", so the CLI's columns and progress
   * lines keep their width; `"short"`: one decimal only below 10, "2.5 GiB" but "15 MiB",
   * as the pages show sizes in narrow table cells.
   */
  decimals?: "one" | "short";
}

const UNITS = ["KiB", "MiB", "GiB", "TiB"] as const;

export function formatBytes(bytes: number, format: ByteFormat = {}): string {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = format.decimals === "short" && value >= 10 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}
