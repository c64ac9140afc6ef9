/**
 * Mirror retention by last pull over any store with PullRecords (memory, SQLite, Durable
 * Objects in workerd, DynamoDB on dynalite): pulls are written at most once per interval,
 * manifests of a mirror namespace not pulled for `unpulledAfterSeconds` go with their tags,
 * and a pull between the listing and the delete keeps the manifest.
 */
import { afterEach, describe, expect, it } from "vitest";
import { applyMirrorRetention } from "../../src/lifecycle/retention.ts";
import type { PullRecords } from "../../src/ports/collectable.ts";
import type { MetadataStore } from "../../src/ports/metadata-store.ts";
import { indexingBytes } from "./metadata-store.contract.ts";
import { digest, manifest } from "./records.ts";

export function unpulledContract(name: string, create: () => Promise<{ metadata: MetadataStore & PullRecords; cleanup(): Promise<void> }>): void {
  describe(`mirror retention by last pull: ${name}`, () => {
    let cleanup: (() => Promise<void>) | undefined;
    afterEach(async () => cleanup?.());

    it("writes a pull only when the last one is older than the interval, and only for a manifest that is there", async () => {
      const fixture = await create();
      cleanup = fixture.cleanup;
      const { metadata } = fixture;
      await indexingBytes(metadata).putManifest("hub/app", manifest(1), ["v1"]);
      const t = Date.now() + 5_000;
      expect(await metadata.recordPull("hub/app", digest(1), t, t)).toBe(true);
      // Pulled at t: a pull within the next interval writes nothing.
      expect(await metadata.recordPull("hub/app", digest(1), t + 10, t - 1_000)).toBe(false);
      expect(await metadata.recordPull("hub/app", digest(2), t, t)).toBe(false);
      expect(await metadata.listUnpulledManifests("hub/app", t)).toEqual([]);
      expect(await metadata.listUnpulledManifests("hub/app", t + 1)).toEqual([{ digest: digest(1), lastUsedAt: t }]);
    });

    it("deletes mirrored manifests not pulled for unpulledAfterSeconds with their tags, lists them in a dry run, and keeps the rest", async () => {
      const fixture = await create();
      cleanup = fixture.cleanup;
      const { metadata } = fixture;
      const store = indexingBytes(metadata);
      await store.putManifest("hub/app", manifest(1), ["pulled"]);
      await store.putManifest("hub/app", manifest(2), ["stale"]);
      await store.putManifest("team/app", manifest(3), ["mine"]);
      const t = Date.now() + 5_000;
      await metadata.recordPull("hub/app", digest(1), t, t);
      const mirrors = [{ namespace: "hub", unpulledAfterSeconds: 1 }];
      const options = { metadata, mirrors, now: () => t + 500 };
      expect(await applyMirrorRetention(options, { dryRun: true })).toEqual([{ repository: "hub/app", digest: digest(2) }]);
      expect(await metadata.getManifest("hub/app", digest(2))).not.toBeNull();
      expect(await applyMirrorRetention(options)).toEqual([{ repository: "hub/app", digest: digest(2) }]);
      expect(await metadata.getManifest("hub/app", digest(2))).toBeNull();
      expect(await metadata.listTags("hub/app", {})).toEqual(["pulled"]);
      // Not a mirror namespace: never deleted by last pull, however old.
      expect(await metadata.getManifest("team/app", digest(3))).not.toBeNull();
      expect(await applyMirrorRetention({ ...options, now: () => t + 60_000 })).toEqual([{ repository: "hub/app", digest: digest(1) }]);
      expect(await metadata.listTags("hub/app", {})).toEqual([]);
    });

    it("keeps a manifest pulled between the listing and the delete", async () => {
      const fixture = await create();
      cleanup = fixture.cleanup;
      const { metadata } = fixture;
      await indexingBytes(metadata).putManifest("hub/app", manifest(1), ["v1"]);
      const t = Date.now() + 5_000;
      const [listed] = await metadata.listUnpulledManifests("hub/app", t);
      expect(listed?.digest).toBe(digest(1));
      expect(await metadata.recordPull("hub/app", digest(1), t, t)).toBe(true);
      expect(await metadata.deleteUnpulledManifest("hub/app", digest(1), listed!.lastUsedAt)).toBe(false);
      expect(await metadata.listTags("hub/app", {})).toEqual(["v1"]);
      expect(await metadata.deleteUnpulledManifest("hub/app", digest(1), t)).toBe(true);
      expect(await metadata.getManifest("hub/app", digest(1))).toBeNull();
    });
  });
}
