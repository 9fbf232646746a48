/**
 * The fuzzer in CI: a short run of every target with a fixed seed (a few seconds each, the quick
 * seed set), which must end without findings; the harness itself against a target with planted
 * bugs (an exception, a slow case, heap growth, a hang — each must be reported, saved and
 * replayable, and minimized); and replays of the inputs that once broke a decoder
 * (test/fixtures/fuzz/<target>/*.bin), which must now pass.
 *
 * Longer runs: `npm run fuzz -- --target NAME --seconds 300`.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { ROOT } from "../support/fixtures.js";
import { Executor, FINDINGS_DIR, formatFinding, fuzzTarget, loadSaved, minimize } from "./runner.js";
import { TARGETS } from "./targets.js";

const SEED = 0x5eed;
const SECONDS = Number(process.env.GOSYMD_FUZZ_SECONDS ?? "3");

describe("fuzz: a short run of every target finds nothing", { timeout: 600_000 }, () => {
  for (const t of TARGETS) {
    test(`${t.name}: ${t.description}`, async () => {
      // Core cases are ~100x slower than the others (each reads a whole core and unwinds every
      // goroutine): give that target more time so a loaded CI machine still gets past its seeds.
      const seconds = t.name === "core" ? SECONDS * 4 : SECONDS;
      const s = await fuzzTarget({ target: t.name, seconds, seed: SEED, quick: true });
      assert.deepEqual(s.errors, [], "the worker failed outside a case");
      const report = s.findings.map((f) => formatFinding(f)).join("\n\n");
      assert.equal(s.findings.length, 0, `findings (saved under ${FINDINGS_DIR}):\n${report}`);
      // It really ran: past its seeds, with mutated inputs that end in different ways.
      assert.ok(s.cases > s.seeds + 10, `${s.cases} cases for ${s.seeds} seeds`);
      assert.ok(Object.keys(s.outcomes).length >= 3, `outcomes: ${JSON.stringify(s.outcomes)}`);
      assert.ok(s.features > 100, `${s.features} blocks covered`);
      assert.ok(s.corpus > s.seeds, `corpus ${s.corpus} for ${s.seeds} seeds`);
    });
  }
});

describe("fuzz harness: planted bugs are reported", { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "gosymd-fuzz-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("exception, slow case, heap growth and hang: found, saved, replayable, minimized", async () => {
    const s = await fuzzTarget({
      target: "selftest",
      seconds: 1.5,
      seed: 1,
      hangMs: 500,
      memoryLimitMb: 32,
      findingsDir: dir,
    });
    const kinds = new Set(s.findings.map((f) => f.kind));
    for (const k of ["exception", "slow", "memory", "hang"] as const)
      assert.ok(kinds.has(k), `no ${k} finding among ${[...kinds]}`);
    assert.ok(s.restarts >= 1, "the worker was restarted after the hang");
    assert.ok(!s.findings.some((f) => /planted/.test(f.message)), "a GosymdError is not a finding");

    const exc = s.findings.find((f) => f.kind === "exception")!;
    assert.match(exc.message, /TypeError/);
    assert.match(exc.stack, /targets\.ts/);
    assert.ok(exc.file !== undefined && existsSync(exc.file));
    const meta = JSON.parse(readFileSync(exc.file.replace(/\.bin$/, ".json"), "utf8")) as {
      reproduce: string;
      context: string;
    };
    assert.match(meta.reproduce, /^npm run fuzz -- --target selftest --replay .*\.bin$/);

    const ex = await Executor.start("selftest", { hangMs: 500 });
    try {
      const saved = loadSaved(exc.file);
      const again = await ex.exec(saved.bytes, ex.contextIndex(saved.context));
      assert.equal(again.finding?.kind, "exception");
      assert.equal((await ex.exec(new Uint8Array(Buffer.from("fine")), 0)).finding, undefined);
      const allowed = await ex.exec(new Uint8Array(Buffer.from("GOSYMD")), 0);
      assert.equal(allowed.finding, undefined);
      assert.match(allowed.tag, /^corrupt /);
      const hang = await ex.exec(new Uint8Array(Buffer.from("..HANG..")), 0);
      assert.equal(hang.finding?.kind, "hang");
      // The executor recovers from the hang (a new worker).
      assert.equal((await ex.exec(new Uint8Array(Buffer.from("ok")), 0)).finding, undefined);
      const padded = new Uint8Array(Buffer.from(`${"a".repeat(300)}TYPE${"b".repeat(300)}`));
      const m = await minimize(ex, padded, 0, { seconds: 30 });
      assert.ok(m !== undefined);
      assert.equal(Buffer.from(m.bytes).toString(), "TYPE");
    } finally {
      await ex.close();
    }
  });
});

/** Regression inputs: test/fixtures/fuzz/<target>/<name>.bin[.gz] (+ <name>.json with the context). */
function regressionInputs(): Array<{ target: string; file: string }> {
  const root = join(ROOT, "test/fixtures/fuzz");
  if (!existsSync(root)) return [];
  const out: Array<{ target: string; file: string }> = [];
  for (const target of readdirSync(root).sort()) {
    const d = join(root, target);
    if (!existsSync(d) || !TARGETS.some((t) => t.name === target)) continue;
    for (const f of readdirSync(d).sort())
      if (f.endsWith(".bin") || f.endsWith(".bin.gz")) out.push({ target, file: join(d, f) });
  }
  return out;
}

describe("fuzz regressions: inputs that once failed now pass", { timeout: 300_000 }, () => {
  const inputs = regressionInputs();
  const targets = [...new Set(inputs.map((i) => i.target))];
  for (const target of targets) {
    test(target, async () => {
      const ex = await Executor.start(target);
      try {
        for (const { file } of inputs.filter((i) => i.target === target)) {
          const saved = loadSaved(file);
          assert.ok(statSync(file).size < 64 * 1024, `${file} is a small file`);
          const r = await ex.exec(saved.bytes, ex.contextIndex(saved.context));
          assert.equal(
            r.finding,
            undefined,
            `${file}: ${r.finding?.kind} ${r.finding?.message}\n${r.finding?.stack}`,
          );
        }
      } finally {
        await ex.close();
      }
    });
  }
});
