/** How the pages write sizes, times and digests: short, and the same everywhere. */

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
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
