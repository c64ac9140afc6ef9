/**
 * The port contract suites, unchanged, against S3 (a real Ceph RGW) and
 * DynamoDB (dynalite), both started by ./global-setup.ts. A bucket and a
 * table per test, so no test sees another's objects or items. Then racing
 * requests on one upload through the upload engine, on both together.
 */
import { S3BlobStore } from "../../src/adapters/s3/blob-store.ts";
import { DynamoDbMetadataStore } from "../../src/adapters/dynamodb/metadata-store.ts";
import { createRegistryTable } from "../../src/adapters/dynamodb/table.ts";
import { blobStoreContract } from "../contract/blob-store.contract.ts";
import { metadataStoreContract } from "../contract/metadata-store.contract.ts";
import { uploadRacesContract } from "../contract/upload-races.contract.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
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

uploadRacesContract("s3 (Ceph RGW) + dynamodb (dynalite)", async () => {
  const s3 = localS3();
  const dynamodb = localDynamoDb();
  const [bucket, table] = [uniqueName("races"), uniqueName("races")];
  await createBucket(s3, bucket);
  await createRegistryTable(dynamodb, table);
  return {
    metadata: new DynamoDbMetadataStore({ client: dynamodb, table }),
    // Each racer its own client, as separate processes or Lambdas would have.
    blobStore: () => new S3BlobStore({ client: localS3(), bucket }),
    hashing: hashWasm,
    cleanup: async () => {
      await deleteBucket(s3, bucket);
      await deleteTable(dynamodb, table);
    },
  };
});
