/** A bucket, a table and an events queue for a registry on the local servers (what the CDK stack creates on AWS). */
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { CreateQueueCommand, SQSClient } from "@aws-sdk/client-sqs";
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
  const queueUrl = await createEventsQueue(`${name}-events`);
  return { BACKEND: "aws", S3_BUCKET: name, DYNAMODB_TABLE: name, EVENTS_QUEUE_URL: queueUrl };
}

/** A queue on the local SQS (fauxqs, LOCAL_SQS_ENDPOINT); returns its URL, whose origin is the server's. */
export async function createEventsQueue(name: string): Promise<string> {
  const { LOCAL_SQS_ENDPOINT, AWS_REGION } = process.env;
  if (!LOCAL_SQS_ENDPOINT) throw new Error("LOCAL_SQS_ENDPOINT is unset: the local SQS (fauxqs) was not started");
  const sqs = new SQSClient({ endpoint: LOCAL_SQS_ENDPOINT, region: AWS_REGION! });
  try {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    if (!QueueUrl) throw new Error(`fauxqs made queue ${name} but named no URL`);
    // fauxqs names its queues http://sqs.<region>.localhost:<port>/<account>/<name>, a host only its own
    // DNS hook resolves; it finds a queue by the URL's path, whatever the host, so the URL is given on
    // its loopback address, the origin the registry's SQS client then sends to (as on AWS, where a
    // queue URL's origin is the SQS endpoint).
    return new URL(new URL(QueueUrl).pathname, LOCAL_SQS_ENDPOINT).href;
  } finally {
    sqs.destroy();
  }
}
