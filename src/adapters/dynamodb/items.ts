/**
 * Records ↔ items. Records are stored as JSON strings (one attribute, exact
 * round trip) beside the few attributes that conditions and indexes need.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { BlobInfo, UploadPartRecord, UploadRecord } from "../../ports/metadata-store.ts";

export type Item = Record<string, AttributeValue>;

export function blobAttributes(info: BlobInfo): Item {
  return { digest: { S: info.digest }, size: { N: String(info.size) }, key: { S: info.key } };
}

export function blobFromItem(item: Item): BlobInfo {
  return { digest: text(item, "digest"), size: Number(item.size?.N), key: text(item, "key") };
}

/**
 * An upload item. The parts list is the one part of a record that grows
 * (a part per 8 MiB by default, up to 10,000): it is stored deflated, about
 * 25 bytes a part, so a record stays within DynamoDB's 400 KB item limit.
 */
export function uploadAttributes(record: UploadRecord): Item {
  const { parts, ...rest } = record;
  return {
    record: { S: JSON.stringify(rest) },
    parts: { B: deflateRawSync(JSON.stringify(parts)) },
    version: { N: String(record.version) },
  };
}

export function uploadFromItem(item: Item): UploadRecord {
  const rest = JSON.parse(text(item, "record")) as Omit<UploadRecord, "parts">;
  const packed = item.parts?.B;
  const parts = packed ? (JSON.parse(inflateRawSync(packed).toString("utf8")) as UploadPartRecord[]) : [];
  return { ...rest, parts };
}

export function text(item: Item, name: string): string {
  const value = item[name]?.S;
  if (value === undefined) throw new Error(`DynamoDB item ${item.pk?.S}/${item.sk?.S} has no string attribute ${name}`);
  return value;
}
