/**
 * Goroutines from real cores vs the text the same process printed before dying.
 *
 * test/fixtures/go/core-crash (a nil dereference in a goroutine other than main, with goroutines
 * parked in chan receive, select, Mutex, WaitGroup, sleep) and core-hang (hundreds of leaked
 * goroutines blocked in many ways, a raw syscall, a locked thread; sent SIGQUIT) run with
 * GOTRACEBACK=crash: the runtime prints every goroutine, then aborts and the kernel dumps core.
 * Built with every installed toolchain, as built (symbols: runtime.allgs), `-ldflags=-s -w` and
 * `objcopy --strip-all` (no symbols: goroutines found by scanning memory). For every goroutine the
 * text printed we require the same id in the core, the same status text, the same frames
 * (function as printed, file, line — inlined frames included) and the same `created by`; the
 * goroutine that was running may carry extra runtime frames on top (the crash path itself). No
 * goroutine may appear in the core that the text did not print. Attribution of the core must name
 * the same category, culprit and fingerprint as attribution of the text.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FileSource } from "../../src/bytes/source.js";
import { attributeCore, coreGoroutines } from "../../src/core/attribute.js";
import { type CoreResult, readCore, toCrashGoroutines } from "../../src/core/read.js";
import { attributeGoroutines, attributeText } from "../../src/crash/attribute.js";
import { parseGoroutineDump } from "../oracle/support.js";
import { availableGoVersions } from "../support/fixtures.js";
import { buildVariant, makeCore, VARIANTS } from "./support.js";

function read(core: string, bin: string, discovery?: "scan"): CoreResult {
  const c = new FileSource(core);
  const b = new FileSource(bin);
  try {
    return readCore(c, b, discovery ? { discovery } : {});
  } finally {
    c.close();
    b.close();
  }
}

/** Differences between the goroutines of a core and the runtime's text dump (empty: they agree). */
function compare(r: CoreResult, text: string): { problems: string[]; compared: number; frames: number } {
  const dump = parseGoroutineDump(text);
  // Register dumps follow the blocks traced from a signal context (crash mode).
  const problems: string[] = dump.unparsed
    .filter((u) => !/: (?:[a-z0-9]+\s+0x[0-9a-f]+|-----)$/.test(u))
    .map((u) => `unparsed text: ${u}`);
  const core = new Map(toCrashGoroutines(r).map((g) => [g.id, g]));
  const raw = new Map(r.goroutines.map((g) => [g.id, g]));
  // A goroutine may be printed twice (once as "running on other thread", once by its own M).
  const byId = new Map<number, (typeof dump.goroutines)[number]>();
  for (const g of dump.goroutines) {
    if (g.id === 0) continue;
    const prev = byId.get(g.id);
    if (prev === undefined || (prev.frames.length === 0 && g.frames.length > 0)) byId.set(g.id, g);
  }
  let compared = 0;
  let frames = 0;
  for (const [id, tg] of byId) {
    const cg = core.get(id);
    const rg = raw.get(id);
    if (cg === undefined || rg === undefined) {
      problems.push(`goroutine ${id} [${tg.state}] is in the text but not in the core`);
      continue;
    }
    compared++;
    const header = [
      `${rg.statusText}${rg.scan ? " (scan)" : ""}`,
      ...(rg.lockedToThread ? ["locked to thread"] : []),
    ].join(", ");
    const textHeader = tg.state.replace(/, \d+ minutes?/, "");
    if (header !== textHeader)
      problems.push(`goroutine ${id}: status [${header}] in the core, [${textHeader}] in the text`);
    if (tg.notes.some((n) => n.includes("stack unavailable"))) continue;
    const want = tg.frames.map((f) => `${f.func} ${f.file}:${f.line}`);
    const got = cg.frames.map((f) => `${f.function} ${f.file}:${f.line}`);
    const running = rg.status === 2 || rg.crashed;
    const ok = running
      ? got.slice(got.length - want.length).join("\n") === want.join("\n")
      : got.join("\n") === want.join("\n");
    if (!ok || want.length === 0) {
      problems.push(
        `goroutine ${id} [${tg.state}] (from ${rg.startedFrom}, stop ${rg.stop}: ${rg.stopDetail}) frames differ:\n    text: ${want.join(" | ")}\n    core: ${got.join(" | ")}`,
      );
    }
    frames += want.length;
    const tc = tg.createdBy;
    const cc = cg.createdBy;
    if ((tc === undefined) !== (cc === undefined))
      problems.push(`goroutine ${id}: created-by present in one only`);
    else if (tc !== undefined && cc !== undefined) {
      const a = `${tc.func} ${tc.file}:${tc.line} +${tc.offset}`;
      const b = `${cc.function} ${cc.file}:${cc.line} +${cc.offset}`;
      if (a !== b) problems.push(`goroutine ${id}: created by ${b} in the core, ${a} in the text`);
    }
  }
  for (const id of core.keys())
    if (!byId.has(id)) problems.push(`goroutine ${id} is in the core but not in the text`);
  return { problems, compared, frames };
}

const PROGRAMS = [
  { prog: "core-crash", args: [] as string[], mode: "crash" as const, minGoroutines: 10 },
  { prog: "core-hang", args: ["-n", "300"], mode: "quit" as const, minGoroutines: 250 },
];

describe("goroutines from cores match the runtime's own dump", { timeout: 600_000 }, () => {
  for (const go of availableGoVersions()) {
    for (const p of PROGRAMS) {
      for (const variant of VARIANTS) {
        test(`${p.prog} go${go} ${variant}`, async () => {
          const run = await makeCore(buildVariant(p.prog, go, variant), p.args, p.mode);
          const r = read(run.core, run.binary);
          assert.equal(r.buildIdCheck, "match");
          assert.equal(r.discovery, variant === "default" ? "allgs" : "scan");
          assert.ok(r.goroutines.length >= p.minGoroutines, `${r.goroutines.length} goroutines`);
          const { problems, compared, frames } = compare(r, run.stderr);
          assert.deepEqual(problems, [], problems.join("\n"));
          assert.ok(
            compared >= p.minGoroutines && frames > compared * 2,
            `compared ${compared} goroutines, ${frames} frames`,
          );
          // Frame pointers agree with pcsp in every parked goroutine (a trap context may catch a
          // function before its prologue saved BP; a running goroutine's sched is a systemstack
          // snapshot whose BP some releases do not save).
          // The frames themselves were checked against the runtime's dump above; the frame
          // pointers are a cross-check of the pcsp walk. A goroutine caught mid-prologue by an
          // asynchronous preemption can legitimately disagree (seen once in ~300 with go1.21), so
          // at most 1% of parked goroutines may; a broken walk disagrees nearly everywhere.
          const parked = r.goroutines.filter(
            (g) => (g.startedFrom === "sched" || g.startedFrom === "syscall") && g.status !== 2,
          );
          const disagree = parked.filter((g) => g.fpMismatches > 0);
          assert.ok(
            disagree.length <= Math.floor(parked.length / 100),
            `frame pointers disagree with pcsp in goroutines ${disagree.map((g) => g.id).join(", ")} of ${parked.length}`,
          );
          assert.ok(r.stats.fpChecked > r.goroutines.length, "frame pointers were checked");

          if (p.mode === "crash") {
            const crashed = r.goroutines[0]!;
            assert.equal(crashed.crashed, true);
            assert.ok(crashed.frames.some((f) => f.frames.some((x) => x.function === "main.handle")));
            assert.deepEqual(
              r.header.panics?.map((x) => x.message),
              ["runtime error: invalid memory address or nil pointer dereference"],
            );
            assert.equal(r.header.signal?.name, "SIGSEGV");
            assert.equal(r.header.signal?.addr, 8, "fault address of the nil *Body field");
          } else {
            assert.equal(r.header.signal?.name, "SIGQUIT");
            assert.equal(r.header.kind, "CRASH_KIND_FATAL_SIGNAL");
          }
          assert.equal(r.fatalSignal?.name, "SIGABRT");

          // Attribution: the core and the text name the same crash.
          // attributeCore end to end for the as-built binary; the same pipeline on the result already
          // read for the others (reading a core twice only costs test time).
          const fromCore =
            variant === "default"
              ? attributeCore(run.core, run.binary, { useBuildInfo: false })
              : attributeGoroutines(coreGoroutines(r), r.header);
          const fromText = attributeText(run.stderr);
          assert.equal(fromCore.category, fromText.category);
          assert.equal(fromCore.kind, fromText.kind);
          assert.equal(fromCore.message, fromText.message);
          assert.deepEqual(
            { ...fromCore.culprit, reason: "" },
            { ...fromText.culprit, reason: "" },
            `culprit: ${fromCore.culprit?.reason} / ${fromText.culprit?.reason}`,
          );
          assert.equal(
            fromCore.fingerprint,
            fromText.fingerprint,
            `${fromCore.fingerprintInputs} / ${fromText.fingerprintInputs}`,
          );
          assert.equal(
            fromCore.category,
            p.mode === "crash" ? "CRASH_CATEGORY_NIL_DEREFERENCE" : "CRASH_CATEGORY_GOROUTINE_DUMP",
          );
        });
      }
    }
    test(`go${go}: scanning memory finds the same goroutines as runtime.allgs`, async () => {
      const run = await makeCore(buildVariant("core-hang", go, "default"), ["-n", "300"], "quit");
      const a = read(run.core, run.binary);
      const s = read(run.core, run.binary, "scan");
      assert.equal(a.discovery, "allgs");
      assert.equal(s.discovery, "scan");
      const key = (r: CoreResult) =>
        r.goroutines
          .map((g) => `${g.id} ${g.addr} ${g.statusText} ${g.frames.map((f) => f.pc).join(",")}`)
          .sort();
      assert.deepEqual(key(s), key(a));
    });
  }
});
