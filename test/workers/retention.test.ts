/** Retention rules on Durable Objects (the shared SQL, through the repository objects), as the cron applies them. */
import { env, reset } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { DurableObjectMetadataStore } from "../../src/adapters/durable-object/metadata-store.ts";
import { applyRetention } from "../../src/lifecycle/retention.ts";
import { indexingBytes } from "../contract/metadata-store.contract.ts";
import { digest, manifest } from "../contract/records.ts";

afterEach(() => reset());

describe("retention rules on Durable Objects", () => {
  it("keeps the newest tags and protected ones, and deletes old untagged manifests", async () => {
    const metadata = new DurableObjectMetadataStore({ repositories: env.REPOSITORIES, indexShards: env.INDEX_SHARDS, catalog: env.CATALOG });
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
