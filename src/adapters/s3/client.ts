import { S3Client } from "@aws-sdk/client-s3";

export interface S3ClientSettings {
  /** Defaults to the SDK's region chain (AWS_REGION, profile, instance metadata). */
  region?: string;
  /** Another S3 implementation (Ceph RGW, MinIO): its URL. Unset on AWS. */
  endpoint?: string;
  /** Bucket in the path rather than the host name; needed by RGW and most self-hosted S3. */
  forcePathStyle?: boolean;
}

/**
 * An S3 client configured the way this registry needs it. Checksums are
 * computed only where an operation requires them: the registry verifies
 * content digests itself (see blob-store.ts), and the SDK's default CRC32
 * trailers are not understood by every S3 implementation (RGW 16 among them).
 */
export function createS3Client(settings: S3ClientSettings = {}): S3Client {
  return new S3Client({
    ...(settings.region ? { region: settings.region } : {}),
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.forcePathStyle ?? false,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}
