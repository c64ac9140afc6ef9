import { describe, expect, it } from "vitest";
import { DEFAULT_ITERATIONS, hashPassword, parsePasswordHash, verifyPassword } from "../../src/auth/passwords.ts";
import { newRobotToken, robotTokenMatches } from "../../src/auth/robot-tokens.ts";

describe("password hashes (PBKDF2-SHA256 through WebCrypto)", () => {
  it("writes pbkdf2-sha256$<iterations>$<salt>$<hash> with a fresh salt each time", async () => {
    const a = await hashPassword("alice-secret");
    const b = await hashPassword("alice-secret");
    expect(a).toMatch(new RegExp(`^pbkdf2-sha256\\$${DEFAULT_ITERATIONS}\\$[A-Za-z0-9_-]{22}\\$[A-Za-z0-9_-]{43}$`));
    expect(a).not.toBe(b);
  });

  it("verifies the right password and refuses others", async () => {
    const stored = parsePasswordHash(await hashPassword("alice-secret"))!;
    expect(await verifyPassword("alice-secret", stored)).toBe(true);
    expect(await verifyPassword("alice-secreT", stored)).toBe(false);
    expect(await verifyPassword("", stored)).toBe(false);
  });

  it("honours the iteration count stored in the hash", async () => {
    const stored = parsePasswordHash(await hashPassword("pw", 150_000))!;
    expect(stored.iterations).toBe(150_000);
    expect(await verifyPassword("pw", stored)).toBe(true);
  });

  it("rejects hashes it did not write, or with too few or too many iterations", async () => {
    const good = await hashPassword("pw");
    const [, , salt, hash] = good.split("$");
    for (const text of ["", "pw", `pbkdf2-sha512$100000$${salt}$${hash}`, `pbkdf2-sha256$1000$${salt}$${hash}`, `pbkdf2-sha256$99999999$${salt}$${hash}`, `pbkdf2-sha256$100000$${salt}$abc`, `${good}$x`]) {
      expect(parsePasswordHash(text), text).toBeNull();
    }
  });
});

describe("robot tokens (stored as SHA-256 only)", () => {
  it("makes a random token whose hash matches it and nothing else", async () => {
    const { token, tokenHash } = await newRobotToken();
    expect(token).toMatch(/^ocirobot_[A-Za-z0-9_-]{43}$/);
    expect(tokenHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await robotTokenMatches(token, tokenHash)).toBe(true);
    expect(await robotTokenMatches(`${token}x`, tokenHash)).toBe(false);
    expect((await newRobotToken()).token).not.toBe(token);
  });
});
