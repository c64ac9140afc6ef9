import { describe, expect, it } from "vitest";
import { ConfigError, defaultConfig, resolveConfig } from "../../src/config/schema.ts";

describe("configuration", () => {
  it("defaults to a loopback registry on port 5000 with data in ./data", () => {
    expect(resolveConfig({}, {})).toEqual(defaultConfig);
    expect(defaultConfig).toMatchObject({ host: "127.0.0.1", port: 5000, dataDir: "./data" });
  });
  it("lets the environment override the file", () => {
    const config = resolveConfig({ port: 6000, dataDir: "/srv" }, { PORT: "7000" });
    expect(config.port).toBe(7000);
    expect(config.dataDir).toBe("/srv");
  });
  it("reads booleans and integers from environment strings", () => {
    const config = resolveConfig({}, { AUTOMATIC_MOUNT: "false", PART_SIZE: String(16 * 1024 * 1024) });
    expect(config.automaticMount).toBe(false);
    expect(config.partSize).toBe(16 * 1024 * 1024);
  });
  it("reads publicUrl (PUBLIC_URL) as an http(s) origin, and refuses anything else by name", () => {
    expect(resolveConfig({}, {}).publicUrl).toBe("");
    expect(resolveConfig({ publicUrl: "https://registry.example.com/" }, {}).publicUrl).toBe("https://registry.example.com");
    expect(resolveConfig({}, { PUBLIC_URL: "http://10.0.0.5:5000" }).publicUrl).toBe("http://10.0.0.5:5000");
    for (const bad of ["registry.example.com", "ftp://registry.example.com", "https://registry.example.com/prefix", "https://registry.example.com/?x=1", "https://user:pw@registry.example.com"]) {
      expect(() => resolveConfig({}, { PUBLIC_URL: bad }), bad).toThrow(/publicUrl \(env PUBLIC_URL\) must be an http\(s\) origin/);
    }
  });
  it("reads uploadUrl (UPLOAD_URL), the split deployment's upload server, as an http(s) origin, and refuses anything else by name", () => {
    expect(resolveConfig({}, {}).uploadUrl).toBe("");
    expect(resolveConfig({ uploadUrl: "https://uploads.example.com/" }, {}).uploadUrl).toBe("https://uploads.example.com");
    expect(resolveConfig({}, { UPLOAD_URL: "http://127.0.0.1:5001" }).uploadUrl).toBe("http://127.0.0.1:5001");
    for (const bad of ["uploads.example.com", "https://uploads.example.com/v2", "https://uploads.example.com/#x"]) {
      expect(() => resolveConfig({}, { UPLOAD_URL: bad }), bad).toThrow(/uploadUrl \(env UPLOAD_URL\) must be an http\(s\) origin such as https:\/\/uploads\.example\.com/);
    }
  });
  it("reports every mistake at once", () => {
    let error: unknown;
    try {
      resolveConfig({ prot: 1, partSize: 1024 }, { PORT: "http" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('unknown setting "prot"');
    expect(message).toContain("port (env PORT)");
    expect(message).toContain("partSize (config file)");
    expect(message).not.toContain("PART_SIZE");
  });
});
