/**
 * Failed logins are limited per client address and per name (issue 13, defect 7), and refresh
 * tokens rotate (issue 13, item 11), in-process over the memory auth state with a test clock.
 * Before: 115 failed logins/s from 8 clients were all checked (PBKDF2 each), and the refresh grant
 * handed the same refresh token back forever.
 */
import type { Context } from "hono";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { generateSigningJwk } from "../../src/auth/keys.ts";
import { buildAuth } from "../../src/auth/service.ts";
import { createApp } from "../../src/http/app.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";
import { PASSWORDS, SERVICE, teamsConfig } from "./support.ts";

const PER_NAME = 3;
const PER_ADDRESS = 5;
const WINDOW_SECONDS = 60;

describe("failed-login limits and refresh token rotation (token endpoint, in-process)", () => {
  let now: number;
  let request: (path: string, init?: RequestInit) => Promise<Response>;

  beforeEach(async () => {
    now = Date.UTC(2026, 0, 1, 12, 0, 0);
    const auth = await buildAuth(
      {
        ...(await teamsConfig()),
        signingKeys: [{ jwk: await generateSigningJwk() }],
        loginFailuresPerName: PER_NAME,
        loginFailuresPerAddress: PER_ADDRESS,
        loginFailureWindowSeconds: WINDOW_SECONDS,
      },
      { now: () => now },
    );
    // The address a runtime would read from its socket or platform, here from a test header.
    const clientAddress = (c: Context) => c.req.header("x-test-client");
    const app = createApp({ blobs: new MemoryBlobStore(), metadata: new MemoryMetadataStore(), hashing: hashWasm, partSize: MIN_PART_SIZE }, { auth, clientAddress });
    request = async (path, init) => app.request(path, init);
  });

  const login = (user: string, password: string, from: string) =>
    request(`/token?service=${SERVICE}&scope=repository:blue/app:pull`, { headers: { authorization: `Basic ${btoa(`${user}:${password}`)}`, "x-test-client": from } });

  async function expectTooMany(response: Response): Promise<void> {
    expect(response.status).toBe(429);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(Number(response.headers.get("retry-after"))).toBeLessThanOrEqual(WINDOW_SECONDS);
    const body = (await response.json()) as { errors: { code: string; message: string }[] };
    expect(body.errors[0]?.code).toBe("TOOMANYREQUESTS");
    expect(body.errors[0]?.message).toContain("failed logins");
  }

  it(`answers 429 with Retry-After once a name has ${PER_NAME} failures, to the addresses that failed, without hashing the password`, async () => {
    for (let i = 0; i < PER_NAME; i++) expect((await login("alice", "guess", "10.0.0.1")).status).toBe(401);
    const derive = vi.spyOn(crypto.subtle, "deriveBits");
    await expectTooMany(await login("alice", PASSWORDS.alice, "10.0.0.1"));
    expect(derive).not.toHaveBeenCalled();
    derive.mockRestore();
  });

  it("still lets the real user in from an address without failures while the name is being guessed elsewhere", async () => {
    for (let i = 0; i < PER_NAME + 2; i++) await login("alice", "guess", `10.0.1.${i}`);
    expect((await login("alice", PASSWORDS.alice, "192.168.7.7")).status).toBe(200);
    // An address that failed once in the window (for any name) is not such an address.
    expect((await login("bob", "guess", "10.0.2.1")).status).toBe(401);
    await expectTooMany(await login("alice", PASSWORDS.alice, "10.0.2.1"));
  });

  it(`answers 429 to every name from an address with ${PER_ADDRESS} failures, and not to other addresses`, async () => {
    for (let i = 0; i < PER_ADDRESS; i++) expect((await login(`nobody${i}`, "guess", "10.0.3.1")).status).toBe(401);
    await expectTooMany(await login("bob", PASSWORDS.bob, "10.0.3.1"));
    expect((await login("bob", PASSWORDS.bob, "10.0.3.2")).status).toBe(200);
  });

  it("lets the address and the name try again once the window has passed", async () => {
    for (let i = 0; i < PER_ADDRESS; i++) await login("alice", "guess", "10.0.4.1");
    await expectTooMany(await login("alice", PASSWORDS.alice, "10.0.4.1"));
    now += WINDOW_SECONDS * 1000;
    expect((await login("alice", PASSWORDS.alice, "10.0.4.1")).status).toBe(200);
  });

  it("limits grant_type=password logins the same way", async () => {
    const form = (password: string) =>
      request("/token", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", "x-test-client": "10.0.5.1" }, body: new URLSearchParams({ grant_type: "password", username: "carol", password, service: SERVICE }) });
    for (let i = 0; i < PER_NAME; i++) expect((await form("guess")).status).toBe(401);
    await expectTooMany(await form(PASSWORDS.carol));
  });

  describe("refresh tokens (grant_type=refresh_token)", () => {
    const grant = (fields: Record<string, string>) =>
      request("/token", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ service: SERVICE, client_id: "test", ...fields }) });
    const refreshTokenOf = async (response: Response) => {
      expect(response.status).toBe(200);
      return ((await response.json()) as { refresh_token?: string }).refresh_token;
    };

    it("rotates the refresh token when a new one is asked for, and refuses the used one with 401", async () => {
      const first = await refreshTokenOf(await grant({ grant_type: "password", username: "alice", password: PASSWORDS.alice, access_type: "offline" }));
      const second = await refreshTokenOf(await grant({ grant_type: "refresh_token", refresh_token: first!, access_type: "offline" }));
      expect(second).toBeTruthy();
      expect(second).not.toBe(first);
      const reused = await grant({ grant_type: "refresh_token", refresh_token: first!, access_type: "offline" });
      expect(reused.status).toBe(401);
      expect(((await reused.json()) as { errors: { message: string }[] }).errors[0]?.message).toContain("already exchanged");
      // Nor may it be used for access tokens alone once rotated away.
      expect((await grant({ grant_type: "refresh_token", refresh_token: first! })).status).toBe(401);
      expect(await refreshTokenOf(await grant({ grant_type: "refresh_token", refresh_token: second!, access_type: "offline" }))).toBeTruthy();
    });

    it("keeps a refresh token exchanged for access tokens only valid (docker login's stored token, presented by every later command)", async () => {
      const token = await refreshTokenOf(await grant({ grant_type: "password", username: "alice", password: PASSWORDS.alice, access_type: "offline" }));
      for (let i = 0; i < 3; i++) expect(await refreshTokenOf(await grant({ grant_type: "refresh_token", refresh_token: token!, scope: "repository:blue/app:pull" }))).toBeUndefined();
    });
  });
});
