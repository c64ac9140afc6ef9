/** The shared SQL rules' all-or-nothing cases on a Durable Object's own SQLite (storage.sql inside workerd). */
import { env, reset, runInDurableObject } from "cloudflare:test";
import { DurableObjectSqlDriver } from "../../src/adapters/durable-object/do-driver.ts";
import type { RepositoryObject } from "../../src/adapters/durable-object/repository-object.ts";
import type { SqlDriver } from "../../src/adapters/sql/driver.ts";
import { sqlRecordsContract } from "../contract/sql-records.contract.ts";

let fixtures = 0;

sqlRecordsContract("durable object storage.sql", async () => {
  const stub = env.REPOSITORIES.getByName(`sql-contract-${++fixtures}`);
  return {
    // Storage may be used only inside its object's context.
    run: (body: (driver: SqlDriver) => void) => runInDurableObject(stub, (_instance: RepositoryObject, state) => body(new DurableObjectSqlDriver(state.storage))),
    cleanup: () => reset(),
  };
});
