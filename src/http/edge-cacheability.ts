/**
 * Whether the current answer may be kept by the edge cache (routes/edge-cache.ts). A
 * route whose body is not yet verified (a mirror streaming an upstream blob, whose last
 * bytes may still turn out wrong) marks it not cacheable: a body that fails half-way
 * must never be stored as the blob.
 */
import type { Context } from "hono";

declare module "hono" {
  interface ContextVariableMap {
    edgeUncacheable?: true;
  }
}

export function markNotEdgeCacheable(c: Context): void {
  c.set("edgeUncacheable", true);
}

export function isEdgeCacheable(c: Context): boolean {
  return c.get("edgeUncacheable") !== true;
}
