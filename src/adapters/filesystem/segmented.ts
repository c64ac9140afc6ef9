/**
 * Completed multipart uploads, kept as their parts. Linux cannot join files
 * without copying them, and a copy would write every byte of a chunked blob
 * twice; so completion renames the upload's directory to
 * `.segmented/<key>/` with an `index.json` naming its parts in order, and
 * reads stream across the parts.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { BlobBody } from "../../ports/blob-store.ts";
import { fileRangeStream } from "./file-streams.ts";
import { readJson } from "./files.ts";

export interface SegmentIndex {
  parts: { file: string; size: number }[];
}

export const SEGMENT_INDEX = "index.json";

export function segmentedDir(root: string, keySegments: string[]): string {
  return join(root, ".segmented", ...keySegments);
}

export async function readSegmentIndex(dir: string): Promise<SegmentIndex | null> {
  return readJson<SegmentIndex>(join(dir, SEGMENT_INDEX));
}

export const segmentedSize = (index: SegmentIndex): number => index.parts.reduce((total, part) => total + part.size, 0);

export async function removeSegmented(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** `length` bytes from `offset` of the parts laid end to end, opened one at a time as the reader pulls. */
export function segmentedStream(dir: string, index: SegmentIndex, offset: number, length: number): BlobBody {
  const pieces: { path: string; size: number; offset: number; length: number }[] = [];
  let start = 0;
  let remaining = length;
  for (const part of index.parts) {
    const end = start + part.size;
    if (remaining > 0 && offset < end) {
      const from = Math.max(offset - start, 0);
      const take = Math.min(part.size - from, remaining);
      pieces.push({ path: join(dir, part.file), size: part.size, offset: from, length: take });
      remaining -= take;
    }
    start = end;
  }
  let current: ReadableStreamDefaultReader<Uint8Array> | null = null;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          if (!current) {
            const next = pieces.shift();
            if (!next) return controller.close();
            current = fileRangeStream(next.path, next.size, next.offset, next.length).getReader();
          }
          const { done, value } = await current.read();
          if (!done) return controller.enqueue(value);
          current = null;
        }
      },
      async cancel(reason) {
        await current?.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
