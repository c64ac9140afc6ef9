/**
 * Which registry processes are running on a DATA_DIR, kept in its database, so that
 * upload claims (core/uploads.ts, "One writer at a time") of a process known to be dead
 * are released at once instead of holding the upload up until they expire: after a
 * crash, a client that resumes its upload right away is not refused for 30 s.
 *
 * A process is named `<host>:<pid>`, and a claim's token starts with its owner's name
 * (`<host>:<pid>/`). A primary (or a single process) registers at start; if no other
 * registered process is alive it is alone, and every claim left in the database belongs
 * to a dead process. A primary whose worker dies releases that worker's claims. Whether a
 * process is alive can be told only on its own host: one registered from another host
 * (containers sharing a volume have host names of their own) always counts as alive, so
 * its claims are only ever left to expire. A pid reused by an unrelated process only makes
 * us keep claims, never drop a live one.
 */
import { hostname } from "node:os";
import type { SqlDriver } from "../sql/driver.ts";

const INSTANCES = "CREATE TABLE IF NOT EXISTS instances (owner TEXT PRIMARY KEY, started_at INTEGER NOT NULL)";

/** This process's name in claims and in the instances table. */
export function processOwner(pid = process.pid): string {
  return `${hostname()}:${pid}`;
}

export function isOwnerAlive(owner: string): boolean {
  const at = owner.lastIndexOf(":");
  if (owner.slice(0, at) !== hostname()) return true;
  try {
    process.kill(Number(owner.slice(at + 1)), 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Registers `owner`; answers whether no other registered process is alive (those that are not are forgotten). */
export function registerInstance(db: SqlDriver, owner: string, isAlive = isOwnerAlive): { alone: boolean } {
  db.exec(INSTANCES);
  return db.transaction(() => {
    let others = 0;
    for (const row of db.all<{ owner: string }>("SELECT owner FROM instances")) {
      if (row.owner !== owner && isAlive(row.owner)) others++;
      else db.run("DELETE FROM instances WHERE owner = ?", row.owner);
    }
    db.run("INSERT OR REPLACE INTO instances (owner, started_at) VALUES (?, ?)", owner, Date.now());
    return { alone: others === 0 };
  });
}

export function unregisterInstance(db: SqlDriver, owner: string): void {
  db.exec(INSTANCES);
  db.run("DELETE FROM instances WHERE owner = ?", owner);
}

/**
 * Clears, in one statement, the writer claim of every upload whose claim belongs to `owner`
 * (every claim when null), bumping the version so a writer still holding it cannot commit.
 * Answers how many.
 */
export function releaseClaims(db: SqlDriver, owner: string | null): number {
  const token = "json_extract(record, '$.writer.token')";
  const prefix = owner === null ? null : `${owner}/`;
  return db.all(
    `UPDATE uploads SET version = version + 1, record = json_remove(json_set(record, '$.version', version + 1), '$.writer')
      WHERE ${token} IS NOT NULL ${prefix === null ? "" : `AND substr(${token}, 1, ?) = ?`} RETURNING id`,
    ...(prefix === null ? [] : [prefix.length, prefix]),
  ).length;
}
