/** A bucket and a table for a registry on the local servers (what the CDK stack creates on AWS). */
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { createDynamoDbClient } from "../../../src/adapters/dynamodb/client.ts";
import { createRegistryTable } from "../../../src/adapters/dynamodb/table.ts";
import { createS3Client } from "../../../src/adapters/s3/client.ts";

/**
 * Creates them and returns the settings `BACKEND=aws npm start` needs besides
 * the servers' own. The servers' settings (startLocalAws's env) must be in
 * process.env: the SDK reads the keys from there.
 */
export async function provisionRegistry(name: string): Promise<Record<string, string>> {
  const { S3_ENDPOINT, DYNAMODB_ENDPOINT, AWS_REGION } = process.env;
  const s3 = createS3Client({ endpoint: S3_ENDPOINT!, region: AWS_REGION!, forcePathStyle: true });
  const dynamodb = createDynamoDbClient({ endpoint: DYNAMODB_ENDPOINT!, region: AWS_REGION! });
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  await createRegistryTable(dynamodb, name);
  s3.destroy();
  dynamodb.destroy();
  return { BACKEND: "aws", S3_BUCKET: name, DYNAMODB_TABLE: name };
}
