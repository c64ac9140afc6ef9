/**
 * R2's binding throws plain `Error`s whose message ends with R2's error code
 * in parentheses, e.g. "completeMultipartUpload: ... (10024)". The codes the
 * adapter translates into the port's errors:
 */
export const R2_INTERNAL_ERROR = 10001;
/** The checksum given to `put` does not match the content. */
export const R2_BAD_DIGEST = 10037;
/** Multipart rule violations: part too small (10011), no such upload (10024), unknown part or ETag (10025), unequal parts (10048). */
export const R2_MULTIPART_RULES: readonly number[] = [10011, 10024, 10025, 10048];

export function r2ErrorCode(error: unknown): number | undefined {
  if (!(error instanceof Error)) return undefined;
  const match = /\((\d{5,6})\)\s*$/.exec(error.message);
  return match ? Number(match[1]) : undefined;
}

export function isR2Error(error: unknown, codes: readonly number[]): boolean {
  const code = r2ErrorCode(error);
  return code !== undefined && codes.includes(code);
}
