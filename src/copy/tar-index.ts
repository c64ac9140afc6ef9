/**
 * Where each file of an uncompressed tar archive lies, read from its headers only (the file is
 * seeked past every member's data), so that `docker save` and OCI archives of many GiB are read
 * as streams of the one member wanted, never whole. ustar, GNU long names (`L`) and pax
 * extended headers (`x`: path, size) are understood; links and directories are skipped.
 */
import { open } from "node:fs/promises";

export interface TarMember {
  /** Offset of the member's data in the archive. */
  offset: number;
  size: number;
}

const BLOCK = 512;

export async function indexTar(file: string): Promise<Map<string, TarMember>> {
  const members = new Map<string, TarMember>();
  const handle = await open(file, "r");
  try {
    const { size: fileSize } = await handle.stat();
    const block = Buffer.alloc(BLOCK);
    let position = 0;
    let longName: string | undefined;
    let pax: Record<string, string> = {};
    for (;;) {
      // Every tar writer ends the archive with zero blocks; a file that stops before them was cut short.
      if (position + BLOCK > fileSize) throw new Error(`${file} ends without the end-of-archive blocks: the archive is truncated`);
      await readFully(handle, block, position);
      if (block.every((byte) => byte === 0)) break;
      if (!checksumMatches(block)) throw new Error(`${file} is not an uncompressed tar archive (bad header at byte ${position})`);
      const type = String.fromCharCode(block[156]!);
      const size = parseSize(block.subarray(124, 136));
      const dataOffset = position + BLOCK;
      // A pax header's size overrides the ustar field (members of 8 GiB and more).
      const dataSize = type !== "x" && type !== "L" && pax.size !== undefined ? Number(pax.size) : size;
      if (dataOffset + dataSize > fileSize) throw new Error(`${file} ends inside a member: the archive is truncated`);
      if (type === "L" || type === "x") {
        const data = Buffer.alloc(size);
        await readFully(handle, data, dataOffset);
        if (type === "L") longName = data.toString("utf8").replace(/\0.*$/s, "");
        else pax = parsePax(data);
      } else {
        const prefix = cString(block.subarray(345, 500));
        const name = pax.path ?? longName ?? (prefix ? `${prefix}/${cString(block.subarray(0, 100))}` : cString(block.subarray(0, 100)));
        if (type === "0" || type === "\0" || type === "7") members.set(normalise(name), { offset: dataOffset, size: dataSize });
        longName = undefined;
        pax = {};
      }
      position = dataOffset + Math.ceil(dataSize / BLOCK) * BLOCK;
    }
  } finally {
    await handle.close();
  }
  return members;
}

/** `./blobs/sha256/…` and `blobs/sha256/…` name the same member. */
export function normalise(path: string): string {
  return path.replace(/^(\.\/)+/, "").replace(/^\/+/, "");
}

async function readFully(handle: Awaited<ReturnType<typeof open>>, buffer: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const { bytesRead } = await handle.read(buffer, done, buffer.length - done, position + done);
    if (bytesRead === 0) throw new Error("unexpected end of the archive");
    done += bytesRead;
  }
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? bytes.length : end).toString("utf8");
}

/** Octal, or GNU base-256 for members of 8 GiB and more. */
function parseSize(field: Buffer): number {
  if (field[0]! & 0x80) {
    let value = 0;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    return value;
  }
  const text = cString(field).trim();
  return text === "" ? 0 : parseInt(text, 8);
}

function checksumMatches(block: Buffer): boolean {
  const stored = parseInt(cString(block.subarray(148, 156)).trim(), 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  return sum === stored;
}

/** `<length> <key>=<value>\n` records (POSIX pax). */
function parsePax(data: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(32, at);
    if (space < 0) break;
    const length = Number(data.subarray(at, space).toString("ascii"));
    if (!Number.isSafeInteger(length) || length <= 0) break;
    const record = data.subarray(space + 1, at + length - 1).toString("utf8");
    const equals = record.indexOf("=");
    if (equals > 0) records[record.slice(0, equals)] = record.slice(equals + 1);
    at += length;
  }
  return records;
}
