import type { Page } from "../ports/metadata-store.ts";

/** Code-point order, which the spec's tag and catalog listings use (not locale order). */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The names strictly after `page.after`, in code-point order, at most `page.limit` of them. */
export function pageOfNames(names: Iterable<string>, page: Page): string[] {
  const { after, limit } = page;
  const sorted = [...names].filter((name) => after === undefined || name > after).sort(byCodePoint);
  return limit === undefined ? sorted : sorted.slice(0, Math.max(0, limit));
}
