/**
 * Limits on one manifest (issue 13, defect 5): how many descriptors it may hold and how deeply its
 * JSON may nest. A manifest past either is refused with 400 MANIFEST_INVALID naming the limit, and
 * nothing is stored. The limits live in the core, so every runtime applies them; this suite runs on
 * each in-process target and, with REGISTRY_URL, against a running server or Worker.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { targetFactories } from "../support/targets.ts";
import { MAX_MANIFEST_DEPTH, MAX_MANIFEST_DESCRIPTORS } from "../../src/core/manifest-document.ts";
import { encodeManifest, expectOciError, imageManifestJson, manifestStatus, putManifest, uniqueRepo, utf8, type RegistryTarget } from "./helpers.ts";

/** `{"nested": [[[ ... ]]]}`: an unknown field (allowed by image-spec) nesting `levels` levels in all. */
const nestedField = (levels: number): string => "[".repeat(levels - 1) + "]".repeat(levels - 1);

describe.each(targetFactories)("manifest limits ($name)", (factory) => {
  let t: RegistryTarget;
  beforeAll(async () => {
    t = await factory.start();
  });
  afterAll(() => t.close());

  it(`refuses a manifest nested 20,000 levels deep with 400 MANIFEST_INVALID naming the limit of ${MAX_MANIFEST_DEPTH}`, async () => {
    const repo = uniqueRepo("limits");
    const json = JSON.stringify(await imageManifestJson(t, repo));
    const deep = `${json.slice(0, -1)},"nested":${nestedField(20_000)}}`;
    const [error] = await expectOciError(await putManifest(t, repo, "deep", utf8(deep)), 400, "MANIFEST_INVALID");
    expect(error?.message).toContain(`${MAX_MANIFEST_DEPTH} levels`);
    expect(await manifestStatus(t, repo, "deep")).toBe(404);
  });

  it(`accepts a manifest nested exactly ${MAX_MANIFEST_DEPTH} levels deep, brackets inside strings not counted`, async () => {
    const repo = uniqueRepo("limits");
    const json = JSON.stringify({ ...(await imageManifestJson(t, repo)), annotations: { brackets: "[[[[{{{{\"[[[" .repeat(40) } });
    // The document itself is level 1, the field's outer array level 2.
    const deep = `${json.slice(0, -1)},"nested":${nestedField(MAX_MANIFEST_DEPTH)}}`;
    expect((await putManifest(t, repo, "deep", utf8(deep))).status).toBe(201);
  });

  it(`refuses ${MAX_MANIFEST_DESCRIPTORS + 1} layer descriptors with 400 MANIFEST_INVALID naming the limit, and accepts ${MAX_MANIFEST_DESCRIPTORS}`, async () => {
    const repo = uniqueRepo("limits");
    const json = await imageManifestJson(t, repo);
    const layer = (json.layers as unknown[])[0];
    // One descriptor is the config.
    const many = { ...json, layers: Array.from({ length: MAX_MANIFEST_DESCRIPTORS }, () => layer) };
    const [error] = await expectOciError(await putManifest(t, repo, "many", encodeManifest(many)), 400, "MANIFEST_INVALID");
    expect(error?.message).toContain(`at most ${MAX_MANIFEST_DESCRIPTORS}`);
    expect(await manifestStatus(t, repo, "many")).toBe(404);
    const within = { ...json, layers: Array.from({ length: MAX_MANIFEST_DESCRIPTORS - 1 }, () => layer) };
    expect((await putManifest(t, repo, "within", encodeManifest(within))).status).toBe(201);
  });
});
