/**
 * The committed generated code (src/gen) must be exactly what `buf generate` produces from
 * proto/, and the protos must be `buf lint` clean. Uses the buf binary from the @bufbuild/buf
 * npm package and the local protoc-gen-es plugin (no network).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { test } from "node:test";
import { ROOT } from "../support/fixtures.js";

const BUF = join(ROOT, "node_modules/.bin/buf");

function files(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) files(p, out);
    else out.push(p);
  }
  return out;
}

test("buf lint is clean", () => {
  execFileSync(BUF, ["lint"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
});

test("src/gen matches buf generate output", () => {
  const tmp = mkdtempSync(join(tmpdir(), "gosymd-gen-"));
  try {
    execFileSync(BUF, ["generate", "--output", tmp], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH ?? ""}` },
    });
    const want = files(join(tmp, "src/gen"))
      .map((f) => relative(join(tmp, "src/gen"), f))
      .sort();
    const have = files(join(ROOT, "src/gen"))
      .map((f) => relative(join(ROOT, "src/gen"), f))
      .sort();
    assert.deepEqual(have, want, "generated file set differs: run `npm run generate`");
    for (const f of want) {
      assert.equal(
        readFileSync(join(ROOT, "src/gen", f), "utf8"),
        readFileSync(join(tmp, "src/gen", f), "utf8"),
        `src/gen/${f} is stale: run \`npm run generate\``,
      );
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
