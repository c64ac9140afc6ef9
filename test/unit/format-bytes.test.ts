/**
 * One way to write sizes (src/core/format-bytes.ts) for the CLI tools (copy, gc, usage) and
 * the pages (src/ui/format.ts): binary units, whole bytes below 1 KiB, and the pages' shorter
 * form that drops the decimal from 10 up.
 */
import { describe, expect, it } from "vitest";
import { formatBytes } from "../../src/core/format-bytes.ts";
import { formatBytes as pageBytes } from "../../src/ui/format.ts";

const KiB = 1024;
const MiB = KiB * 1024;
const GiB = MiB * 1024;
const TiB = GiB * 1024;

describe("formatBytes", () => {
  it("writes sizes below 1 KiB as whole bytes, in both forms", () => {
    for (const bytes of [0, 1, 512, 1023]) {
      expect(formatBytes(bytes)).toBe(`${bytes} B`);
      expect(formatBytes(bytes, { decimals: "short" })).toBe(`${bytes} B`);
    }
  });

  it("writes one decimal in the CLI's form, whatever the size", () => {
    expect(formatBytes(KiB)).toBe("1.0 KiB");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(15 * MiB)).toBe("15.0 MiB");
    expect(formatBytes(MiB - 1)).toBe("1024.0 KiB");
    expect(formatBytes(2.5 * GiB)).toBe("2.5 GiB");
    expect(formatBytes(300 * GiB)).toBe("300.0 GiB");
  });

  it("drops the decimal from 10 up in the short form", () => {
    expect(formatBytes(KiB, { decimals: "short" })).toBe("1.0 KiB");
    expect(formatBytes(9.5 * MiB, { decimals: "short" })).toBe("9.5 MiB");
    expect(formatBytes(10 * MiB, { decimals: "short" })).toBe("10 MiB");
    expect(formatBytes(15 * MiB, { decimals: "short" })).toBe("15 MiB");
    expect(formatBytes(300 * GiB, { decimals: "short" })).toBe("300 GiB");
  });

  it("stops at TiB", () => {
    expect(formatBytes(5 * TiB)).toBe("5.0 TiB");
    expect(formatBytes(2048 * TiB)).toBe("2048.0 TiB");
    expect(formatBytes(2048 * TiB, { decimals: "short" })).toBe("2048 TiB");
  });

  it("is what the pages show (the short form)", () => {
    for (const bytes of [0, 1023, KiB, 12345, 15 * MiB, 2.5 * GiB, 5 * TiB]) {
      expect(pageBytes(bytes)).toBe(formatBytes(bytes, { decimals: "short" }));
    }
  });
});
