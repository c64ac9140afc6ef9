import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { indexTar } from "../../src/copy/tar-index.ts";

/** A tree with a short name, a 120-character path and an empty file, archived by GNU tar in `format`. */
function archive(format: "gnu" | "pax" | "ustar"): { file: string; expected: Map<string, Buffer> } {
  const dir = mkdtempSync(join(tmpdir(), "copy-tar-"));
  const tree = join(dir, "tree");
  const long = `blobs/sha256/${"d".repeat(50)}/${"e".repeat(55)}`;
  const expected = new Map<string, Buffer>([
    ["manifest.json", Buffer.from('{"a":1}')],
    [long, Buffer.alloc(1500, 7)],
    ["empty", Buffer.alloc(0)],
  ]);
  for (const [name, bytes] of expected) {
    mkdirSync(join(tree, name, ".."), { recursive: true });
    writeFileSync(join(tree, name), bytes);
  }
  const file = join(dir, `${format}.tar`);
  const names = format === "ustar" ? ["manifest.json", "empty"] : [...expected.keys()];
  if (format === "ustar") expected.delete(long);
  execFileSync("tar", [`--format=${format}`, "-cf", file, "-C", tree, ...names]);
  return { file, expected };
}

describe("copy: members of an uncompressed tar archive found from their headers alone", () => {
  for (const format of ["gnu", "pax", "ustar"] as const) {
    it(`finds each file's offset and size in a ${format} archive, long names included`, async () => {
      const { file, expected } = archive(format);
      const members = await indexTar(file);
      const bytes = readFileSync(file);
      for (const [name, content] of expected) {
        const member = members.get(name);
        expect(member, name).toBeDefined();
        expect(bytes.subarray(member!.offset, member!.offset + member!.size).equals(content), name).toBe(true);
      }
    });
  }

  it("refuses a file that is not a tar archive, and a truncated one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "copy-tar-"));
    writeFileSync(join(dir, "gzip.tar"), Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(1020, 1)]));
    await expect(indexTar(join(dir, "gzip.tar"))).rejects.toThrow(/not an uncompressed tar archive/);
    const { file } = archive("gnu");
    writeFileSync(join(dir, "cut.tar"), readFileSync(file).subarray(0, 2048));
    await expect(indexTar(join(dir, "cut.tar"))).rejects.toThrow(/truncated/);
  });
});
