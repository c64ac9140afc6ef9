import { CreateTableCommand, DescribeTableCommand, type CreateTableCommandInput, type DynamoDBClient } from "@aws-sdk/client-dynamodb";

/**
 * The table's shape (core/storage-layout.ts § dynamodb explains the items):
 * string keys `pk`/`sk`, and one sparse index over upload items by age for
 * expiry. infra/registry-stack.ts declares the same table for AWS.
 */
export const TABLE_SCHEMA = {
  partitionKey: "pk",
  sortKey: "sk",
  uploadsByAge: { indexName: "uploads-by-age", partitionKey: "uploadIndex", sortKey: "createdAt" },
} as const;

/**
 * Creates the table on demand and waits until it (and its index) can be used:
 * for tests and local servers; AWS deployments use the CDK stack.
 */
export async function createRegistryTable(client: DynamoDBClient, table: string): Promise<void> {
  const { partitionKey, sortKey, uploadsByAge } = TABLE_SCHEMA;
  const input: CreateTableCommandInput = {
    TableName: table,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [
      { AttributeName: partitionKey, AttributeType: "S" },
      { AttributeName: sortKey, AttributeType: "S" },
      { AttributeName: uploadsByAge.partitionKey, AttributeType: "S" },
      { AttributeName: uploadsByAge.sortKey, AttributeType: "N" },
    ],
    KeySchema: [
      { AttributeName: partitionKey, KeyType: "HASH" },
      { AttributeName: sortKey, KeyType: "RANGE" },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: uploadsByAge.indexName,
        KeySchema: [
          { AttributeName: uploadsByAge.partitionKey, KeyType: "HASH" },
          { AttributeName: uploadsByAge.sortKey, KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "KEYS_ONLY" },
      },
    ],
  };
  await client.send(new CreateTableCommand(input));
  const deadline = Date.now() + 120_000;
  // dynalite is ready at once; DynamoDB takes seconds, so the polls back off.
  for (let delay = 20; ; delay = Math.min(delay * 2, 2000)) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
    if (Table?.TableStatus === "ACTIVE" && (Table.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === "ACTIVE")) return;
    if (Date.now() > deadline) throw new Error(`table ${table} is still ${Table?.TableStatus} after 120 s`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
