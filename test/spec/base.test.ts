import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { targetFactories } from "../support/targets.ts";
import type { RegistryTarget } from "./helpers.ts";

describe.each(targetFactories)("base /v2/ ($name)", (factory) => {
  let t: RegistryTarget;
  beforeAll(async () => {
    t = await factory.start();
  });
  afterAll(() => t.close());

  describe("spec § Determining Support (end-1)", () => {
    it("answers 200 to GET /v2/", async () => {
      const res = await t.request("/v2/");
      await res.arrayBuffer();
      expect(res.status).toBe(200);
    });

    it("sends Docker-Distribution-API-Version: registry/2.0 on /v2/", async () => {
      const res = await t.request("/v2/");
      await res.arrayBuffer();
      expect(res.headers.get("docker-distribution-api-version")).toBe("registry/2.0");
    });
  });
});
