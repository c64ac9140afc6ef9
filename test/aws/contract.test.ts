/**
 * The port contract suites, unchanged, against S3 (a real Ceph RGW) and
 * DynamoDB (dynalite), both started by ./global-setup.ts. A bucket and a
 * table per test, so no test sees another's objects or items.
 */
import { S3BlobStore } from "../../src/adapters/s3/blob-store.ts";
import { DynamoDbMetadataStore } from "../../src/adapters/dynamodb/metadata-store.ts";
import { createRegistryTable } from "../../src/adapters/dynamodb/table.ts";
import { blobStoreContract } from "../contract/blob-store.contract.ts";
import { metadataStoreContract } from "../contract/metadata-store.contract.ts";
import { createBucket, deleteBucket, deleteTable, localDynamoDb, localS3, uniqueName } from "./support.ts";

blobStoreContract("s3 (Ceph RGW)", async () => {
  const client = localS3();
  const bucket = uniqueName("contract");
  await createBucket(client, bucket);
  return { store: new S3BlobStore({ client, bucket }), cleanup: () => deleteBucket(client, bucket) };
});

metadataStoreContract("dynamodb (dynalite)", async () => {
  const client = localDynamoDb();
  const table = uniqueName("contract");
  await createRegistryTable(client, table);
  return { store: new DynamoDbMetadataStore({ client, table }), cleanup: () => deleteTable(client, table) };
});
