/** How the SDK reports S3's errors: `name` is S3's error code. */
interface S3ServiceError {
  name: string;
}

function asServiceError(error: unknown): S3ServiceError | null {
  return typeof error === "object" && error !== null && typeof (error as { name?: unknown }).name === "string" ? (error as S3ServiceError) : null;
}

/**
 * GetObject answers NoSuchKey; HeadObject has no body, so the SDK names its 404
 * "NotFound". Any other 404 (NoSuchBucket) is a misconfiguration, not a missing blob.
 */
export function isMissingObject(error: unknown): boolean {
  const e = asServiceError(error);
  return e !== null && (e.name === "NoSuchKey" || e.name === "NotFound");
}

/**
 * The multipart upload is unknown, finished or aborted, or belongs to another
 * key. AWS says NoSuchUpload; RGW says NoSuchKey for ListParts of a completed upload.
 */
export function isMissingUpload(error: unknown): boolean {
  const e = asServiceError(error);
  return e !== null && (e.name === "NoSuchUpload" || e.name === "NoSuchKey");
}

/** Completion refused for its parts: wrong ETag or number, bad order, a non-final part under 5 MiB. */
export function isRejectedCompletion(error: unknown): boolean {
  const e = asServiceError(error);
  return e !== null && ["InvalidPart", "InvalidPartOrder", "EntityTooSmall", "MalformedXML"].includes(e.name);
}
