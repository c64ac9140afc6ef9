import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { parsePasswordHash, verifyPassword } from "../../src/auth/passwords.ts";
import { robotTokenMatches } from "../../src/auth/robot-tokens.ts";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs an operator script the way `npm run` does, with `input` on a pipe. */
async function run(script: string, args: string[], input = ""): Promise<Run> {
  return runCommand(process.execPath, [`scripts/${script}.ts`, ...args], input);
}

/** `answers`: [prompt, line] pairs; each line is typed once its prompt has been shown, as a person would. */
async function runCommand(command: string, args: string[], input: string, answers: [string, string][] = []): Promise<Run> {
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let answered = 0;
  let shown = 0;
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    while (answered < answers.length) {
      const [prompt, line] = answers[answered]!;
      const at = stdout.indexOf(prompt, shown);
      if (at < 0) break;
      shown = at + prompt.length;
      answered++;
      child.stdin.write(line);
      if (answered === answers.length) child.stdin.end();
    }
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  child.stdin.write(input);
  if (answers.length === 0) child.stdin.end();
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

describe("npm run auth:hash-password", () => {
  it("hashes the password piped on stdin", async () => {
    const { code, stdout } = await run("auth-hash-password", [], "correct horse\n");
    expect(code).toBe(0);
    const stored = parsePasswordHash(stdout.trim());
    expect(stored).not.toBeNull();
    expect(await verifyPassword("correct horse", stored!)).toBe(true);
    expect(await verifyPassword("--help", stored!)).toBe(false);
  });

  it("prints its usage for --help instead of hashing the word", async () => {
    const { code, stdout } = await run("auth-hash-password", ["--help"]);
    expect(code).toBe(0);
    expect(stdout).toContain("usage:");
    expect(stdout).not.toContain("pbkdf2-sha256$");
  });

  it("refuses a password given as an argument (shell history) without echoing it", async () => {
    const { code, stdout, stderr } = await run("auth-hash-password", ["hunter2secret"]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toContain("shell history");
    expect(stderr).not.toContain("hunter2secret");
  });

  it("at a terminal, asks twice and never shows what was typed", async () => {
    // util-linux's `script` gives the script a real pseudo-terminal.
    const command = `${process.execPath} scripts/auth-hash-password.ts`;
    const typed = await runCommand("script", ["-qec", command, "/dev/null"], "", [["password (not shown):", "s3cret-typed\r"], ["again, to confirm:", "s3cret-typed\r"]]);
    expect(typed.code).toBe(0);
    expect(typed.stdout).toContain("password (not shown):");
    expect(typed.stdout).toContain("again, to confirm:");
    expect(typed.stdout).not.toContain("s3cret-typed");
    const stored = parsePasswordHash(/pbkdf2-sha256\$\S+/.exec(typed.stdout)![0]);
    expect(await verifyPassword("s3cret-typed", stored!)).toBe(true);

    const mistyped = await runCommand("script", ["-qec", command, "/dev/null"], "", [["password (not shown):", "s3cret-typed\r"], ["again, to confirm:", "s3cret-typo\r"]]);
    expect(mistyped.code).toBe(2);
    expect(mistyped.stdout).toContain("differ");
    expect(mistyped.stdout).not.toContain("pbkdf2-sha256$");
  });
});

describe("npm run auth:robot-token", () => {
  it("names the robot and prints a configuration entry holding the hash of the printed token", async () => {
    const { code, stdout } = await run("auth-robot-token", ["blue-ci", "--team", "blue"]);
    expect(code).toBe(0);
    const token = /ocirobot_[A-Za-z0-9_-]+/.exec(stdout)![0];
    const entry = /^\s*"blue-ci": (\{.*\})$/m.exec(stdout);
    expect(entry).not.toBeNull();
    const robot = JSON.parse(entry![1]!) as { tokenHash: string; teams: string[] };
    expect(robot.teams).toEqual(["blue"]);
    expect(await robotTokenMatches(token, robot.tokenHash)).toBe(true);
    expect(stdout).toContain('username "blue-ci"');
  });

  it("refuses to run without a valid name", async () => {
    expect((await run("auth-robot-token", [])).code).toBe(2);
    const bad = await run("auth-robot-token", ["bad:name"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("not a valid name");
  });
});

describe("npm run auth:public-jwk", () => {
  it("prints the public part of auth:keygen's key, with its kid, and nothing private", async () => {
    const key = await run("auth-keygen", []);
    const privateJwk = (JSON.parse(key.stdout) as { jwk: Record<string, string> }).jwk;
    const { code, stdout } = await run("auth-public-jwk", [], key.stdout);
    expect(code).toBe(0);
    const { verificationKeys } = JSON.parse(stdout) as { verificationKeys: Record<string, string>[] };
    expect(verificationKeys).toHaveLength(1);
    expect(verificationKeys[0]).toMatchObject({ kid: privateJwk.kid, alg: "ES256", x: privateJwk.x, y: privateJwk.y });
    expect(verificationKeys[0]!.d).toBeUndefined();
    expect(stdout).not.toContain(privateJwk.d!);
  });

  it("says what it expected when the input holds no signing key", async () => {
    const { code, stderr } = await run("auth-public-jwk", [], '{"port": 5000}');
    expect(code).toBe(2);
    expect(stderr).toContain("no signing keys found");
  });
});
