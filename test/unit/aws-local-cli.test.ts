import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { dirname } from "node:path";

describe("npm run aws:local -- start", () => {
  it("makes `eval \"$(… start)\"` fail with the reason when Ceph is missing, instead of exporting nothing", () => {
    // A PATH with this Node and nothing else: no Ceph commands (CI installs them in /usr/bin).
    const result = spawnSync("/bin/bash", ["-c", `eval "$("${process.execPath}" test/aws/local/cli.ts start)"; echo "status $? bucket '\${S3_BUCKET:-}'"`], {
      env: { PATH: dirname(process.execPath), HOME: process.env.HOME ?? "/tmp" },
      encoding: "utf8",
    });
    expect(result.stdout.trim()).toBe("status 1 bucket ''");
    expect(result.stderr).toContain("apt-get install");
  });
});
