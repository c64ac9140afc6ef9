/**
 * What the AWS tests share: the local servers' settings (started by
 * ./global-setup.ts) and throwaway buckets and tables on them.
 */
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from "@aws-sdk/client-s3";
import { DeleteTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createS3Client } from "../../src/adapters/s3/client.ts";
import { createDynamoDbClient } from "../../src/adapters/dynamodb/client.ts";

export interface LocalAwsSettings {
  s3Endpoint: string;
  dynamodbEndpoint: string;
  region: string;
}

/** The local servers' settings; throws (failing the test that asked) when they could not be started. */
export function localAws(): LocalAwsSettings {
  const problem = process.env.LOCAL_AWS_PROBLEM;
  if (problem) throw new Error(problem);
  const { S3_ENDPOINT, DYNAMODB_ENDPOINT, AWS_REGION } = process.env;
  if (!S3_ENDPOINT || !DYNAMODB_ENDPOINT || !AWS_REGION) {
    throw new Error("S3_ENDPOINT, DYNAMODB_ENDPOINT and AWS_REGION are unset: run the AWS tests with `npm run test:aws`, which starts Ceph RGW and dynalite");
  }
  return { s3Endpoint: S3_ENDPOINT, dynamodbEndpoint: DYNAMODB_ENDPOINT, region: AWS_REGION };
}

/** The environment a registry (the Lambda handler, the Node runtime) runs with on the local servers, its bucket and table given. */
export function registryEnvOnLocalAws(bucket: string, table: string): Record<string, string | undefined> {
  const { s3Endpoint, dynamodbEndpoint } = localAws();
  return { ...process.env, S3_BUCKET: bucket, S3_ENDPOINT: s3Endpoint, S3_FORCE_PATH_STYLE: "true", DYNAMODB_TABLE: table, DYNAMODB_ENDPOINT: dynamodbEndpoint };
}

export function localS3(): S3Client {
  const { s3Endpoint, region } = localAws();
  return createS3Client({ endpoint: s3Endpoint, region, forcePathStyle: true });
}

export function localDynamoDb(): DynamoDBClient {
  const { dynamodbEndpoint, region } = localAws();
  return createDynamoDbClient({ endpoint: dynamodbEndpoint, region });
}

let counter = 0;

/** A name no other test in this run uses (buckets: 3-63 lowercase letters, digits, hyphens). */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

export async function createBucket(client: S3Client, bucket: string): Promise<void> {
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
}

/** Deletes every object and open multipart upload in the bucket, then the bucket. */
export async function deleteBucket(client: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    const keys = (listed.Contents ?? []).flatMap((object) => (object.Key ? [{ Key: object.Key }] : []));
    if (keys.length === 0) break;
    await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
  }
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  for (const upload of uploads.Uploads ?? []) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }));
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}

export async function deleteTable(client: DynamoDBClient, table: string): Promise<void> {
  await client.send(new DeleteTableCommand({ TableName: table }));
}
