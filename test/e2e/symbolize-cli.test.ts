/**
 * `gosymd symbolize` as a user runs it, on a real binary built by others (buf, ~58k functions,
 * with inline trees): the text output's bulk path (stdin, `frameLines`) and the argument path must
 * print exactly the frames `resolve` returns, innermost first, in input order, with the address
 * adjustments (--base, --return-addresses), -a, comments, decimal and invalid tokens; --json must
 * carry the same frames.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { type GoBinary, openBinaryFile } from "../../src/symtab/index.js";
import { npmFixture, ROOT } from "../support/fixtures.js";
import { samplePcs } from "../support/sample.js";

const MAIN = join(ROOT, "src/cli/main.ts");

/**
 * Runs the CLI with `input` on stdin (then closed), collecting its output. A run that has not
 * finished after 2 minutes is killed and fails the test (never a hung suite).
 */
function run(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, "symbolize", ...args], {
      cwd: ROOT,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`gosymd symbolize ${args.join(" ")} did not finish in 120 s`));
    }, 120_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
    child.stdin.end(input ?? "");
  });
}

/** The text the CLI must print for one pc, rendered from `resolve`. */
function expected(bin: GoBinary, pc: number): string {
  const fr = bin.resolve(pc).frames;
  if (fr.length === 0) return "?\n?:0\n";
  return fr.map((f) => `${f.function}\n${f.file === "" ? "?" : f.file}:${f.line}\n`).join("");
}

/** Equality of two long outputs, failing with the first differing line (not a megabyte diff). */
function sameText(actual: string, want: string): void {
  if (actual === want) return;
  const a = actual.split("\n");
  const w = want.split("\n");
  let i = 0;
  while (i < a.length && i < w.length && a[i] === w[i]) i++;
  assert.fail(`output differs at line ${i + 1}: got ${JSON.stringify(a[i])}, want ${JSON.stringify(w[i])}`);
}

describe("gosymd symbolize (CLI, text and JSON)", () => {
  let path: string;
  let bin: GoBinary;
  let pcs: number[];

  before(() => {
    path = npmFixture("buf-1.75.0-linux-amd64");
    bin = openBinaryFile(path, { sha256: null });
    // Enough to span several 64 KiB stdin chunks and output pieces.
    pcs = samplePcs(path, 12_000, 7);
  });

  test("stdin: every address's frames, in input order, as resolve gives them", async () => {
    const input = `${pcs.map((p, i) => (i % 5 === 0 ? String(p) : `0x${p.toString(16)}`)).join("\n")}\n`;
    const r = await run(["--binary", path], input);
    assert.equal(r.code, 0, r.stderr);
    sameText(r.stdout, pcs.map((p) => expected(bin, p)).join(""));
    // The sample reaches inlined frames (more frames than addresses).
    assert.ok(r.stdout.split("\n").length - 1 > 2 * pcs.length);
  });

  test("arguments, -a, comments, junk, an address outside the binary", async () => {
    const some = pcs.slice(0, 50);
    const input = `# a comment\n0x${some[0]!.toString(16)}, 0x${some[1]!.toString(16)}\nnot-an-address\n0x1\n`;
    const r = await run(["--binary", path, "-a"], input);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      `0x${some[0]!.toString(16)}\n${expected(bin, some[0]!)}0x${some[1]!.toString(16)}\n${expected(bin, some[1]!)}not-an-address\n?\n?:0\n0x1\n?\n?:0\n`,
    );
    const args = await run(["--binary", path, ...some.map((p) => `0x${p.toString(16)}`)]);
    assert.equal(args.code, 0, args.stderr);
    sameText(args.stdout, some.map((p) => expected(bin, p)).join(""));
  });

  test("--base and --return-addresses adjust before the lookup", async () => {
    const base = 0x5555_0000_0000;
    const some = pcs.slice(100, 400);
    const input = some.map((p) => `0x${(p + base + 1).toString(16)}`).join("\n");
    const r = await run(["--binary", path, "--base", base.toString(16), "--return-addresses"], input);
    assert.equal(r.code, 0, r.stderr);
    sameText(r.stdout, some.map((p) => expected(bin, p)).join(""));
    // Below the base: no answer, not an error.
    const below = await run(["--binary", path, "--base", base.toString(16)], "0x1000\n");
    assert.equal(below.stdout, "?\n?:0\n");
  });

  test("--json carries the same frames as the text output", async () => {
    const some = pcs.slice(500, 700);
    const r = await run(["--binary", path, "--json"], some.map((p) => `0x${p.toString(16)}`).join("\n"));
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as { address: string; frames?: { function: string; file?: string; line?: number }[] },
      );
    assert.equal(rows.length, some.length);
    rows.forEach((row, i) => {
      assert.equal(BigInt(row.address), BigInt(some[i]!));
      const text = (row.frames ?? []).map((f) => `${f.function}\n${f.file || "?"}:${f.line ?? 0}\n`).join("");
      assert.equal(text || "?\n?:0\n", expected(bin, some[i]!));
    });
  });
});
