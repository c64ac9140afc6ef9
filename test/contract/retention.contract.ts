/**
 * Retention rules over any store with RetainableMetadata (SQLite on Node, Durable Objects in
 * workerd, DynamoDB on dynalite): the newest tags and protected ones stay, old untagged
 * manifests go, each delete conditional. Imports only vitest, src and the contract records.
 */
import { afterEach, describe, expect, it } from "vitest";
import { applyRetention } from "../../src/lifecycle/retention.ts";
import type { RetainableMetadata } from "../../src/ports/collectable.ts";
import type { MetadataStore } from "../../src/ports/metadata-store.ts";
import { indexingBytes } from "./metadata-store.contract.ts";
import { digest, manifest } from "./records.ts";

export function retentionContract(name: string, create: () => Promise<{ metadata: MetadataStore & RetainableMetadata; cleanup(): Promise<void> }>): void {
describe(`retention rules: ${name}`, () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => cleanup?.());
  it("keeps the newest tags and protected ones, and deletes old untagged manifests", async () => {
    const fixture = await create();
    cleanup = fixture.cleanup;
    const metadata = fixture.metadata;
    const store = indexingBytes(metadata);
    for (const [i, tag] of ["a", "b", "c", "latest"].entries()) {
      await store.putManifest("team/app", manifest(i + 1), [tag]);
      await new Promise((resolve) => setTimeout(resolve, 5)); // distinct push times
    }
    await store.putManifest("team/app", manifest(9), []);
    const rules = [{ repositories: ["team/*"], keepLastTags: 1, untaggedAfterSeconds: 0, protectTags: ["latest"] }];
    const report = await applyRetention({ metadata, rules, now: () => Date.now() + 1000 });
    expect(report.tags.map((t) => t.tag).sort()).toEqual(["a", "b"]);
    // Untagged ones go in the same run, those whose tags it just deleted included.
    expect(report.manifests.map((m) => m.digest).sort()).toEqual([digest(1), digest(2), digest(9)].sort());
    expect(await metadata.listTags("team/app", {})).toEqual(["c", "latest"]);
    expect(await metadata.getManifest("team/app", digest(3))).not.toBeNull();
    expect(await applyRetention({ metadata, rules, now: () => Date.now() + 1000 })).toMatchObject({ tags: [], manifests: [] });
  });
});
}
