/** Throwaway DynamoDB (dynalite) + S3 (Ceph RGW) stores for the lifecycle suites: a table and a bucket per case. */
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { DynamoDbMetadataStore } from "../../src/adapters/dynamodb/metadata-store.ts";
import { createRegistryTable } from "../../src/adapters/dynamodb/table.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { S3BlobStore } from "../../src/adapters/s3/blob-store.ts";
import { createBucket, deleteBucket, deleteTable, localDynamoDb, localS3, uniqueName } from "./support.ts";

export async function lifecycleStores() {
  const s3 = localS3();
  const dynamodb = localDynamoDb();
  const [bucket, table] = [uniqueName("lifecycle"), uniqueName("lifecycle")];
  await createBucket(s3, bucket);
  await createRegistryTable(dynamodb, table);
  return {
    dynamodb,
    table,
    metadata: new DynamoDbMetadataStore({ client: dynamodb, table }),
    blobs: new S3BlobStore({ client: s3, bucket }),
    hashing: hashWasm,
    /** Keys under `prefix` (blobs/ unless told). */
    objects: async (prefix = "blobs/") => {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      return (listed.Contents ?? []).map((o) => o.Key!).sort();
    },
    cleanup: async () => {
      await deleteBucket(s3, bucket);
      await deleteTable(dynamodb, table);
    },
  };
}
