/**
 * Which registry processes are running on a DATA_DIR, kept in its database, so that
 * upload claims (core/uploads.ts, "One writer at a time") of a process known to be dead
 * are released at once instead of holding the upload up until they expire: after a
 * crash, a client that resumes its upload right away is not refused for 30 s.
 *
 * A claim's token starts with its owner (`<pid>/`). A primary (or a single process)
 * registers its pid at start; if no other registered pid is alive it is alone, and
 * every claim left in the database belongs to a dead process. A primary whose worker
 * dies releases that worker's claims. Pids are of one machine: SQLite's locking needs a
 * local disk anyway. A pid reused by an unrelated process only makes us keep claims
 * (they still expire), never drop a live one.
 */
import type { SqlDriver } from "../sql/driver.ts";

const INSTANCES = "CREATE TABLE IF NOT EXISTS instances (pid INTEGER PRIMARY KEY, started_at INTEGER NOT NULL)";

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Registers `pid`; answers whether no other registered process is alive (those that are not are forgotten). */
export function registerInstance(db: SqlDriver, pid: number, isAlive = isProcessAlive): { alone: boolean } {
  db.exec(INSTANCES);
  return db.transaction(() => {
    let others = 0;
    for (const row of db.all<{ pid: number }>("SELECT pid FROM instances")) {
      if (row.pid !== pid && isAlive(row.pid)) others++;
      else db.run("DELETE FROM instances WHERE pid = ?", row.pid);
    }
    db.run("INSERT OR REPLACE INTO instances (pid, started_at) VALUES (?, ?)", pid, Date.now());
    return { alone: others === 0 };
  });
}

export function unregisterInstance(db: SqlDriver, pid: number): void {
  db.exec(INSTANCES);
  db.run("DELETE FROM instances WHERE pid = ?", pid);
}

/**
 * Clears the writer claim of every upload whose claim belongs to `owner` (every claim
 * when null), bumping the version so a writer still holding it cannot commit. Answers how many.
 */
export function releaseClaims(db: SqlDriver, owner: string | null): number {
  const rows = db.all<{ repository: string; id: string }>(
    `SELECT repository, id FROM uploads WHERE json_extract(record, '$.writer.token') IS NOT NULL ${owner === null ? "" : "AND json_extract(record, '$.writer.token') LIKE ? || '/%'"}`,
    ...(owner === null ? [] : [owner]),
  );
  for (const { repository, id } of rows) {
    db.run(
      "UPDATE uploads SET version = version + 1, record = json_remove(json_set(record, '$.version', version + 1), '$.writer') WHERE repository = ? AND id = ?",
      repository,
      id,
    );
  }
  return rows.length;
}
