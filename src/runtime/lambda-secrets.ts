/**
 * Reads a Secrets Manager secret through the AWS Parameters and Secrets
 * Lambda Extension (a layer the CDK stack attaches): a local HTTP endpoint
 * that caches secrets, so the function needs no Secrets Manager SDK client.
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/retrieving-secrets_lambda.html
 */
export async function readSecretString(secretId: string, env: Record<string, string | undefined>): Promise<string> {
  const port = env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT ?? "2773";
  const url = `http://localhost:${port}/secretsmanager/get?secretId=${encodeURIComponent(secretId)}`;
  // The extension accepts only callers that hold the function's session token.
  const response = await fetch(url, { headers: { "X-Aws-Parameters-Secrets-Token": env.AWS_SESSION_TOKEN ?? "" } });
  if (!response.ok) throw new Error(`the Parameters and Secrets extension answered ${response.status} for secret ${secretId}`);
  const { SecretString } = (await response.json()) as { SecretString?: string };
  if (SecretString === undefined) throw new Error(`secret ${secretId} has no string value`);
  return SecretString;
}
