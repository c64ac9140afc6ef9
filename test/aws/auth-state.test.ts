import { afterAll } from "vitest";
import { DynamoDbAuthState } from "../../src/adapters/dynamodb/auth-state.ts";
import { createRegistryTable } from "../../src/adapters/dynamodb/table.ts";
import { authStateContract } from "../contract/auth-state.contract.ts";
import { deleteTable, localDynamoDb, uniqueName } from "./support.ts";

const client = localDynamoDb();
const tables: string[] = [];
afterAll(() => Promise.all(tables.map((table) => deleteTable(client, table))));

authStateContract("DynamoDB (dynalite)", async () => {
  const table = uniqueName("auth-state");
  tables.push(table);
  await createRegistryTable(client, table);
  return new DynamoDbAuthState({ client, table });
});
