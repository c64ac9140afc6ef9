/** How the pages write sizes, times and digests: short, and the same everywhere. */
import { formatBytes as formatSize } from "../core/format-bytes.ts";

/** "15 MiB", "2.5 GiB": one decimal only below 10, to fit narrow table cells. */
export function formatBytes(bytes: number): string {
  return formatSize(bytes, { decimals: "short" });
}

/** `sha256:0123456789ab` (the first 12 hex digits, as docker prints image ids). */
export function shortDigest(digest: string): string {
  const colon = digest.indexOf(":");
  return colon < 0 ? digest.slice(0, 19) : digest.slice(0, colon + 13);
}

/** RFC 3339 without fractions (UTC); an unparsable time is shown as given, cut short. */
export function formatTime(value: string | number | undefined): string {
  if (value === undefined || value === "" || value === 0) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value).slice(0, 40);
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
