import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryAuthState } from "../../src/auth/auth-state.ts";
import { SqliteAuthState } from "../../src/adapters/sqlite/auth-state.ts";
import { authStateContract } from "./auth-state.contract.ts";

authStateContract("memory", async () => new MemoryAuthState());
authStateContract("SQLite (DATA_DIR's registry.db)", async () => new SqliteAuthState(await mkdtemp(join(tmpdir(), "registry-auth-state-"))));
