import { ConditionalCheckFailedException, GetItemCommand, PutItemCommand, UpdateItemCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { AuthStateStore } from "../../auth/auth-state.ts";

/**
 * The auth state (auth/auth-state.ts) in the registry's DynamoDB table, shared by every Lambda
 * instance and every `npm start` on the table (core/storage-layout.ts § dynamodb):
 *   pk `auth#failures#<key>`, sk `<window start ms>`: `count` (ADD, atomic), `authExpiresAt` (s)
 *   pk `auth#used#<id>`, sk `used`: written once with attribute_not_exists, `authExpiresAt` (s)
 * `authExpiresAt`, in seconds and carried by these items only, is the table's TTL attribute
 * (infra/registry-stack.ts), so DynamoDB removes them once they no longer matter; reads ignore
 * expired ones meanwhile.
 */
export const AUTH_TTL_ATTRIBUTE = "authExpiresAt";
export class DynamoDbAuthState implements AuthStateStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;

  constructor(options: { client: DynamoDBClient; table: string }) {
    this.#client = options.client;
    this.#table = options.table;
  }

  async failures(keys: string[], window: number): Promise<number[]> {
    return Promise.all(
      keys.map(async (key) => {
        const { Item } = await this.#client.send(
          new GetItemCommand({ TableName: this.#table, Key: { pk: { S: `auth#failures#${key}` }, sk: { S: String(window) } }, ConsistentRead: true }),
        );
        return Number(Item?.count?.N ?? 0);
      }),
    );
  }

  async recordFailure(keys: string[], window: number, expiresAt: number): Promise<void> {
    await Promise.all(
      keys.map((key) =>
        this.#client.send(
          new UpdateItemCommand({
            TableName: this.#table,
            Key: { pk: { S: `auth#failures#${key}` }, sk: { S: String(window) } },
            UpdateExpression: "ADD #count :one SET #ttl = :expires",
            ExpressionAttributeNames: { "#count": "count", "#ttl": AUTH_TTL_ATTRIBUTE },
            ExpressionAttributeValues: { ":one": { N: "1" }, ":expires": { N: String(Math.ceil(expiresAt / 1000)) } },
          }),
        ),
      ),
    );
  }

  async wasUsed(id: string): Promise<boolean> {
    const { Item } = await this.#client.send(new GetItemCommand({ TableName: this.#table, Key: { pk: { S: `auth#used#${id}` }, sk: { S: "used" } }, ConsistentRead: true }));
    return Item !== undefined && Number(Item[AUTH_TTL_ATTRIBUTE]?.N ?? 0) * 1000 > Date.now();
  }

  async useOnce(id: string, expiresAt: number): Promise<boolean> {
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: { pk: { S: `auth#used#${id}` }, sk: { S: "used" }, [AUTH_TTL_ATTRIBUTE]: { N: String(Math.ceil(expiresAt / 1000)) } },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
