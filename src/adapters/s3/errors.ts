/** How the SDK reports S3's errors: `name` is S3's error code, `$metadata` carries the status. */
interface S3ServiceError {
  name: string;
  $metadata?: { httpStatusCode?: number };
}

function asServiceError(error: unknown): S3ServiceError | null {
  return typeof error === "object" && error !== null && typeof (error as { name?: unknown }).name === "string" ? (error as S3ServiceError) : null;
}

/** GetObject answers NoSuchKey; HeadObject has no body, so only "NotFound" and its 404. */
export function isMissingObject(error: unknown): boolean {
  const e = asServiceError(error);
  return e !== null && (e.name === "NoSuchKey" || e.name === "NotFound" || e.$metadata?.httpStatusCode === 404);
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
