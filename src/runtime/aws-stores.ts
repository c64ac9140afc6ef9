/**
 * The AWS backend's adapters, built from configuration: blobs in S3,
 * metadata in DynamoDB. Credentials and region come from the SDK's usual
 * chain (AWS_REGION, AWS_ACCESS_KEY_ID…, a profile, a Lambda or ECS role).
 */
import { DynamoDbAuthState } from "../adapters/dynamodb/auth-state.ts";
import { createDynamoDbClient } from "../adapters/dynamodb/client.ts";
import { DynamoDbMetadataStore } from "../adapters/dynamodb/metadata-store.ts";
import { S3BlobStore } from "../adapters/s3/blob-store.ts";
import { createS3Client } from "../adapters/s3/client.ts";
import type { RegistryConfig } from "../config/schema.ts";

export interface AwsStores {
  blobs: S3BlobStore;
  metadata: DynamoDbMetadataStore;
  /** Failed logins and used refresh tokens, in the same table. */
  authState: DynamoDbAuthState;
}

type AwsSettings = Pick<RegistryConfig, "s3Bucket" | "s3Endpoint" | "s3ForcePathStyle" | "dynamodbTable" | "dynamodbEndpoint">;

export function awsStores(config: AwsSettings): AwsStores {
  const s3 = createS3Client({ forcePathStyle: config.s3ForcePathStyle, ...(config.s3Endpoint ? { endpoint: config.s3Endpoint } : {}) });
  const dynamodb = createDynamoDbClient(config.dynamodbEndpoint ? { endpoint: config.dynamodbEndpoint } : {});
  return {
    blobs: new S3BlobStore({ client: s3, bucket: config.s3Bucket }),
    metadata: new DynamoDbMetadataStore({ client: dynamodb, table: config.dynamodbTable }),
    authState: new DynamoDbAuthState({ client: dynamodb, table: config.dynamodbTable }),
  };
}

/** The auth state alone (Node builds auth before its stores). */
export function awsAuthState(config: AwsSettings): DynamoDbAuthState {
  return new DynamoDbAuthState({ client: createDynamoDbClient(config.dynamodbEndpoint ? { endpoint: config.dynamodbEndpoint } : {}), table: config.dynamodbTable });
}

/** Where the data lives, for the start-up line. */
export function describeAwsStores(config: AwsSettings): string {
  return `blobs in s3://${config.s3Bucket}${config.s3Endpoint ? ` at ${config.s3Endpoint}` : ""} and metadata in DynamoDB table ${config.dynamodbTable}${config.dynamodbEndpoint ? ` at ${config.dynamodbEndpoint}` : ""}`;
}
