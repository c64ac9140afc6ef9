/**
 * The table's keys, one function per item kind (core/storage-layout.ts
 * § dynamodb). Sort-key prefixes are chosen so that each kind is one
 * contiguous, non-overlapping range of a repository's partition.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";

export type Key = Record<"pk" | "sk", AttributeValue>;

const key = (pk: string, sk: string): Key => ({ pk: { S: pk }, sk: { S: sk } });
const repositoryPk = (repository: string) => `repo#${repository}`;

export const CATALOG_PK = "catalog";
export const UPLOAD_INDEX = "upload";

export const keys = {
  blob: (digest: string) => key(`blob#${digest}`, "blob"),
  catalogEntry: (repository: string) => key(CATALOG_PK, repository),
  link: (repository: string, digest: string) => key(repositoryPk(repository), `link#${digest}`),
  manifest: (repository: string, digest: string) => key(repositoryPk(repository), `manifest#${digest}`),
  manifestChunk: (repository: string, digest: string, putId: string, index: number) =>
    key(repositoryPk(repository), manifestChunkSk(`manifest#${digest}`, putId, index)),
  tag: (repository: string, tag: string) => key(repositoryPk(repository), `tag#${tag}`),
  tagged: (repository: string, digest: string, tag: string) => key(repositoryPk(repository), `tagged#${digest}#${tag}`),
  referrer: (repository: string, subject: string, digest: string) => key(repositoryPk(repository), `referrer#${subject}#${digest}`),
  upload: (repository: string, id: string) => key(repositoryPk(repository), `upload#${id}`),
};

/** A chunk's sort key, zero-padded so chunks sort in order; with a null index, their common prefix. */
export function manifestChunkSk(manifestSk: string, putId: string, index: number | null): string {
  return `${manifestSk}#${putId}#${index === null ? "" : String(index).padStart(4, "0")}`;
}

/** Sort-key ranges for Query. "$" follows "#", so `<kind>#` … `<kind>$` holds exactly one kind. */
export const ranges = {
  repositoryPk,
  tags: { prefix: "tag#", end: "tag$" },
  taggedPrefix: (digest: string) => `tagged#${digest}#`,
  referrerPrefix: (subject: string) => `referrer#${subject}#`,
  /** The chunks of the manifest item with sort key `manifestSk` written by put `putId`. */
  manifestChunkPrefix: (manifestSk: string, putId: string) => manifestChunkSk(manifestSk, putId, null),
};
