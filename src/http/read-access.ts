/**
 * What the current request may read, as the auth guard found it; unset when
 * the registry runs without auth (everything is readable).
 */
import type { Context } from "hono";
import type { ReadAccess } from "../core/read-access.ts";

declare module "hono" {
  interface ContextVariableMap {
    readAccess?: ReadAccess;
  }
}

export function readAccessOf(c: Context): ReadAccess | undefined {
  return c.get("readAccess");
}

export function setReadAccess(c: Context, access: ReadAccess): void {
  c.set("readAccess", access);
}
