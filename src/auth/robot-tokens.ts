/**
 * Robot (API) tokens: long random secrets for automation. The registry keeps
 * only their SHA-256 (`sha256:<hex>`); a fast hash suffices because the
 * tokens carry 256 bits of randomness, unlike passwords.
 */
import { constantTimeEqual, randomBytes, sha256Hex, toBase64url, utf8 } from "./bytes.ts";

export const ROBOT_TOKEN_HASH = /^sha256:[0-9a-f]{64}$/;

export async function newRobotToken(): Promise<{ token: string; tokenHash: string }> {
  const token = `ocirobot_${toBase64url(randomBytes(32))}`;
  return { token, tokenHash: await robotTokenHash(token) };
}

export async function robotTokenHash(token: string): Promise<string> {
  return `sha256:${await sha256Hex(token)}`;
}

export async function robotTokenMatches(token: string, tokenHash: string): Promise<boolean> {
  return constantTimeEqual(utf8(await robotTokenHash(token)), utf8(tokenHash));
}
