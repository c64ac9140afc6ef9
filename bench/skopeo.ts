/**
 * skopeo, isolated from the host's configuration: its own policy, an empty
 * auth file, private runtime and temporary directories. `--preserve-digests`
 * makes skopeo fail rather than re-compress or convert a layer, so the bytes
 * timed are exactly the layer's.
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Skopeo {
  /** Seconds from spawn to exit. */
  copy(source: string, destination: string): Promise<number>;
}

export function skopeo(workDir: string): Skopeo {
  const home = join(workDir, "skopeo");
  mkdirSync(join(home, "tmp"), { recursive: true });
  mkdirSync(join(home, "run"), { recursive: true, mode: 0o700 });
  const policy = join(home, "policy.json");
  writeFileSync(policy, JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }));
  const auth = join(home, "auth.json");
  writeFileSync(auth, "{}");
  const env = { ...process.env, REGISTRY_AUTH_FILE: auth, XDG_RUNTIME_DIR: join(home, "run"), TMPDIR: join(home, "tmp") };
  return {
    copy(source, destination) {
      const args = ["--policy", policy, "--tmpdir", join(home, "tmp"), "copy", "--quiet", "--preserve-digests"];
      args.push("--src-tls-verify=false", "--dest-tls-verify=false", source, destination);
      return new Promise((resolve, reject) => {
        const started = performance.now();
        const child = spawn("skopeo", args, { env, stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.on("error", reject);
        child.on("exit", (code) => {
          if (code === 0) resolve((performance.now() - started) / 1000);
          else reject(new Error(`skopeo copy ${source} ${destination} failed (${code}):\n${stderr.slice(-2000)}`));
        });
      });
    },
  };
}
