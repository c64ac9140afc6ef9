/** The scanning garbage collector on DynamoDB (dynalite) + S3 (Ceph RGW): what the scheduled Lambda runs. */
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { DynamoDbMetadataStore } from "../../src/adapters/dynamodb/metadata-store.ts";
import { createRegistryTable } from "../../src/adapters/dynamodb/table.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { S3BlobStore } from "../../src/adapters/s3/blob-store.ts";
import { retentionContract } from "../contract/retention.contract.ts";
import { unpulledContract } from "../contract/unpulled.contract.ts";
import { scanningCollectorContract } from "../contract/scanning-collector.contract.ts";
import { createBucket, deleteBucket, deleteTable, localDynamoDb, localS3, uniqueName } from "./support.ts";

scanningCollectorContract("dynamodb (dynalite) + s3 (Ceph RGW)", async () => {
  const s3 = localS3();
  const dynamodb = localDynamoDb();
  const [bucket, table] = [uniqueName("gc"), uniqueName("gc")];
  await createBucket(s3, bucket);
  await createRegistryTable(dynamodb, table);
  return {
    metadata: new DynamoDbMetadataStore({ client: dynamodb, table }),
    blobs: new S3BlobStore({ client: s3, bucket }),
    hashing: hashWasm,
    objects: async () => {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "blobs/" }));
      return (listed.Contents ?? []).map((o) => o.Key!).sort();
    },
    cleanup: async () => {
      await deleteBucket(s3, bucket);
      await deleteTable(dynamodb, table);
    },
  };
});

unpulledContract("dynamodb (dynalite)", async () => {
  const dynamodb = localDynamoDb();
  const table = uniqueName("unpulled");
  await createRegistryTable(dynamodb, table);
  return { metadata: new DynamoDbMetadataStore({ client: dynamodb, table }), cleanup: () => deleteTable(dynamodb, table) };
});

retentionContract("dynamodb (dynalite)", async () => {
  const dynamodb = localDynamoDb();
  const table = uniqueName("retention");
  await createRegistryTable(dynamodb, table);
  return { metadata: new DynamoDbMetadataStore({ client: dynamodb, table }), cleanup: () => deleteTable(dynamodb, table) };
});
