import { describe, expect, it } from "vitest";
import { resolveRange } from "../../src/core/blobs.ts";

describe("resolveRange (RFC 9110 § 14.1.2 byte ranges)", () => {
  it("serves the whole blob without a Range header", () => {
    expect(resolveRange(undefined, 10)).toEqual({ kind: "whole" });
  });
  it("resolves first-last inclusively", () => {
    expect(resolveRange("bytes=2-5", 10)).toEqual({ kind: "partial", range: { offset: 2, length: 4 } });
  });
  it("resolves an open-ended range to the end", () => {
    expect(resolveRange("bytes=7-", 10)).toEqual({ kind: "partial", range: { offset: 7, length: 3 } });
  });
  it("clamps a last position beyond the end", () => {
    expect(resolveRange("bytes=8-100", 10)).toEqual({ kind: "partial", range: { offset: 8, length: 2 } });
  });
  it("resolves a suffix range to the last bytes", () => {
    expect(resolveRange("bytes=-3", 10)).toEqual({ kind: "partial", range: { offset: 7, length: 3 } });
    expect(resolveRange("bytes=-30", 10)).toEqual({ kind: "partial", range: { offset: 0, length: 10 } });
  });
  it("is unsatisfiable when the first position is at or past the end", () => {
    expect(resolveRange("bytes=10-", 10)).toEqual({ kind: "unsatisfiable" });
    expect(resolveRange("bytes=-0", 10)).toEqual({ kind: "unsatisfiable" });
  });
  it("is unsatisfiable when the range ends before it starts (conformance: bytes=500-0 → 416)", () => {
    expect(resolveRange("bytes=5-2", 10)).toEqual({ kind: "unsatisfiable" });
  });
  it("ignores what it does not understand and serves the whole blob", () => {
    expect(resolveRange("bytes=0-1,4-5", 10)).toEqual({ kind: "whole" });
    expect(resolveRange("items=0-1", 10)).toEqual({ kind: "whole" });
  });
});
