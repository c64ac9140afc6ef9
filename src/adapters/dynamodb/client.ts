import { DynamoDBClient } from "@aws-sdk/client-dynamodb";

export interface DynamoDbClientSettings {
  /** Defaults to the SDK's region chain (AWS_REGION, profile, instance metadata). */
  region?: string;
  /** Another DynamoDB endpoint (dynalite, DynamoDB Local). Unset on AWS. */
  endpoint?: string;
}

export function createDynamoDbClient(settings: DynamoDbClientSettings = {}): DynamoDBClient {
  return new DynamoDBClient({
    ...(settings.region ? { region: settings.region } : {}),
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
  });
}
