import {
  BatchGetItemCommand,
  ScanCommand,
  type ScanCommandInput,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type QueryCommandInput,
} from "@aws-sdk/client-dynamodb";
import type { Item } from "./items.ts";
import type { Key } from "./keys.ts";

export interface Condition {
  expression: string;
  names?: Record<string, string>;
  values?: Record<string, AttributeValue>;
}

/** BatchGetItem takes at most 100 keys. */
const BATCH_GET_LIMIT = 100;

/**
 * The few DynamoDB calls the store makes, with its habits built in: every
 * read is strongly consistent, and a failed condition is an answer (false),
 * not an error.
 */
export class TableAccess {
  readonly client: DynamoDBClient;
  readonly name: string;

  constructor(client: DynamoDBClient, name: string) {
    this.client = client;
    this.name = name;
  }

  async get(key: Key): Promise<Item | null> {
    const output = await this.client.send(new GetItemCommand({ TableName: this.name, Key: key, ConsistentRead: true }));
    return output.Item ?? null;
  }

  /** Items for `keys` that exist, in no particular order. */
  async getMany(keys: Key[]): Promise<Item[]> {
    const found: Item[] = [];
    for (let i = 0; i < keys.length; i += BATCH_GET_LIMIT) {
      let pending: Key[] = keys.slice(i, i + BATCH_GET_LIMIT);
      while (pending.length > 0) {
        const output = await this.client.send(
          new BatchGetItemCommand({ RequestItems: { [this.name]: { Keys: pending, ConsistentRead: true } } }),
        );
        found.push(...(output.Responses?.[this.name] ?? []));
        // Throttled keys come back unprocessed; asking again is the documented answer.
        pending = (output.UnprocessedKeys?.[this.name]?.Keys as Key[] | undefined) ?? [];
      }
    }
    return found;
  }

  /** Writes the item; false when `condition` did not hold (nothing written). */
  async put(item: Item, condition?: Condition): Promise<boolean> {
    return this.conditional(() =>
      this.client.send(new PutItemCommand({ TableName: this.name, Item: item, ...conditionInput(condition) })),
    );
  }

  /** Writes the item if `condition` holds; answers whether it did and the item it replaced, if any. */
  async putReturningOld(item: Item, condition: Condition): Promise<{ written: boolean; old: Item | null }> {
    let old: Item | null = null;
    const written = await this.conditional(async () => {
      const output = await this.client.send(new PutItemCommand({ TableName: this.name, Item: item, ReturnValues: "ALL_OLD", ...conditionInput(condition) }));
      old = output.Attributes ?? null;
    });
    return { written, old };
  }

  /** Writes the item unconditionally and returns the one it replaced, if any. */
  async replace(item: Item): Promise<Item | null> {
    const output = await this.client.send(new PutItemCommand({ TableName: this.name, Item: item, ReturnValues: "ALL_OLD" }));
    return output.Attributes ?? null;
  }

  /** Deletes the item; false when `condition` did not hold. The old item is returned when there was one. */
  async delete(key: Key, condition?: Condition): Promise<{ deleted: boolean; old: Item | null }> {
    let old: Item | null = null;
    const deleted = await this.conditional(async () => {
      const output = await this.client.send(
        new DeleteItemCommand({ TableName: this.name, Key: key, ReturnValues: "ALL_OLD", ...conditionInput(condition) }),
      );
      old = output.Attributes ?? null;
    });
    return { deleted, old };
  }

  /** Applies `update`; returns the item as it is afterwards, or null when `condition` did not hold. */
  async update(key: Key, update: Condition, condition?: Condition): Promise<Item | null> {
    let after: Item | null = null;
    await this.conditional(async () => {
      const output = await this.client.send(
        new UpdateItemCommand({
          TableName: this.name,
          Key: key,
          UpdateExpression: update.expression,
          ReturnValues: "ALL_NEW",
          ...conditionInput(condition, update),
        }),
      );
      after = output.Attributes ?? null;
    });
    return after;
  }

  /**
   * Query results page by page until `enough` items are collected or none
   * remain. A page stops at `Limit` items or 1 MB, whichever comes first,
   * so a short page does not mean the end: only a missing LastEvaluatedKey does.
   */
  async query(input: Omit<QueryCommandInput, "TableName" | "ExclusiveStartKey">, enough = Infinity): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const output = await this.client.send(
        new QueryCommand({ ...input, TableName: this.name, ...(start ? { ExclusiveStartKey: start } : {}) }),
      );
      items.push(...(output.Items ?? []));
      start = output.LastEvaluatedKey;
    } while (start && items.length < enough);
    return items;
  }

  /** The whole table in pages (eventually consistent, unordered): for garbage collection's walk of the blob index. */
  async *scanPages(input: Omit<ScanCommandInput, "TableName" | "ExclusiveStartKey">): AsyncIterable<Item[]> {
    let start: Record<string, AttributeValue> | undefined;
    do {
      const output = await this.client.send(new ScanCommand({ ...input, TableName: this.name, ...(start ? { ExclusiveStartKey: start } : {}) }));
      yield output.Items ?? [];
      start = output.LastEvaluatedKey;
    } while (start);
  }

  private async conditional(write: () => Promise<unknown>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (error) {
      if ((error as { name?: string }).name === "ConditionalCheckFailedException") return false;
      throw error;
    }
  }
}

function conditionInput(condition: Condition | undefined, update?: Condition) {
  const names = { ...update?.names, ...condition?.names };
  const values = { ...update?.values, ...condition?.values };
  return {
    ...(condition ? { ConditionExpression: condition.expression } : {}),
    ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
    ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
  };
}
