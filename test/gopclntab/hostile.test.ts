/**
 * Hostile pclntabs: truncations at every header field and sub-table boundary, and random byte
 * mutations of real tables (header, functab, _func records, pc-value tables, names, inline
 * records), across table generations and pointer sizes. The property: parsing and lookups either
 * work or fail with a GosymdError — never another exception, never a hang — and a whole binary
 * whose pclntab is damaged still opens or fails cleanly, with resolve() answering every address.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { GosymdError } from "../../src/bytes/errors.js";
import { BufferSource, FileSource } from "../../src/bytes/source.js";
import { locatePclntab } from "../../src/gopclntab/locate.js";
import { Expansion, type ParseOptions, parsePclntab } from "../../src/gopclntab/table.js";
import { openObject } from "../../src/object/open.js";
import { openBinary } from "../../src/symtab/binary.js";
import { npmFixture } from "../support/fixtures.js";

const FIXTURES = [
  "esbuild-0.5.26-linux-amd64", // 0xfffffffb (Go 1.14), 20-byte inline records, absolute funcdata
  "esbuild-0.13.15-linux-amd64", // 0xfffffffa (Go 1.17)
  "esbuild-0.15.18-linux-amd64", // 0xfffffff0 (Go 1.19)
  "esbuild-0.25.0-linux-386", // 0xfffffff1, 4-byte pointers
  "esbuild-0.25.0-linux-arm", // quantum 4
  "esbuild-0.28.2-linux-amd64", // Go 1.26: textStart 0, funcdata inside the table
];

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

interface Base {
  bytes: Uint8Array;
  opts: ParseOptions;
  pcs: number[];
  fileOffset: number;
  file: Uint8Array;
  /** [start, end) byte ranges of the sub-tables, for targeted mutations. */
  regions: Array<[string, number, number]>;
}

function load(name: string): Base {
  const path = npmFixture(name);
  const src = new FileSource(path);
  const obj = openObject(src);
  const loc = locatePclntab(obj);
  const h = loc.header;
  // Records the table reads outside itself (inline trees), served from a private copy.
  const file = new Uint8Array(readFileSync(path));
  const mem = new Map<string, Uint8Array>();
  const gofunc = loc.gofuncCandidates[0];
  // As openBinary passes them: funcdata from gofunc to the end of its section (read as one region).
  const gofuncSec = gofunc === undefined ? undefined : obj.sectionAt(gofunc);
  const opts: ParseOptions = {
    addr: loc.addr,
    ...(loc.textStart !== undefined ? { textStart: loc.textStart } : {}),
    ...(gofunc !== undefined ? { gofunc } : {}),
    ...(gofuncSec !== undefined ? { funcdataEnd: gofuncSec.addr + gofuncSec.size } : {}),
    readMemory: (a, n) => {
      const k = `${a}:${n}`;
      let v = mem.get(k);
      if (v === undefined) {
        v = obj.readVirtual(a, n);
        if (v !== undefined) mem.set(k, v);
      }
      return v;
    },
  };
  const t = parsePclntab(loc.bytes, opts);
  const r = rng(name.length);
  const pcs: number[] = [];
  for (let k = 0; k < 300; k++) {
    const i = Math.floor(r() * t.nfunc);
    pcs.push(t.entry(i) + Math.floor(r() * (t.end(i) - t.entry(i))));
  }
  pcs.push(t.entry(0) - 1, t.end(t.nfunc - 1), 0);
  const sec = obj.sections.find((s) => s.addr === loc.addr && s.fileSize > 0);
  assert.ok(sec, "the table is a section in these fixtures");
  const fileOffset = sec.offset;
  src.close();
  const regions: Array<[string, number, number]> = [["header", 0, h.version === "1.2" ? 16 : 72]];
  if (h.version !== "1.2") {
    regions.push(
      ["funcnametab", h.funcnametab, h.funcnametabEnd],
      ["cutab", h.cutab, h.cutabEnd],
      ["filetab", h.filetab, h.filetabEnd],
      ["pctab", h.pctab, h.pctabEnd],
    );
  }
  const ftabEnd = h.functab + (2 * h.nfunc + 1) * h.functabFieldSize;
  regions.push(["functab", h.functab, ftabEnd], ["_func records", ftabEnd, loc.bytes.length]);
  return { bytes: loc.bytes, opts, pcs, fileOffset, file, regions };
}

/** Parses and looks up every PC; returns "ok", or the GosymdError kind; anything else fails the test. */
function exercise(bytes: Uint8Array, opts: ParseOptions, pcs: number[], what: string): string {
  const t0 = performance.now();
  let outcome = "ok";
  try {
    const t = parsePclntab(bytes, opts);
    const ex = new Expansion();
    for (const pc of pcs) {
      try {
        t.expand(pc, ex);
        for (let k = 0; k < ex.count; k++) t.nameAt(ex.nameOff[k]!);
      } catch (e) {
        if (!(e instanceof GosymdError)) throw e;
      }
    }
  } catch (e) {
    if (!(e instanceof GosymdError)) {
      assert.fail(`${what}: ${(e as Error).stack ?? String(e)}`);
    }
    outcome = e.kind;
  }
  const ms = performance.now() - t0;
  // The property is "bounded", not "fast": a hang would run for minutes; a loaded 2-core CI
  // machine needs 6-8 s for the worst (never-ending) tables.
  assert.ok(ms < 20_000, `${what}: took ${ms.toFixed(0)} ms`);
  return outcome;
}

describe("hostile pclntabs", () => {
  test("an unknown magic is 'unsupported' and names the magic in hex", () => {
    const b = new Uint8Array(64);
    b.set([0xf2, 0xff, 0xff, 0xff, 0, 0, 1, 8]);
    assert.throws(
      () => parsePclntab(b),
      (e: unknown) => e instanceof GosymdError && e.kind === "unsupported" && /0xfffffff2/.test(e.message),
    );
  });

  for (const name of FIXTURES) {
    test(`${name}: truncations and mutations`, () => {
      const base = load(name);
      const { bytes, opts, pcs } = base;
      assert.equal(exercise(bytes, opts, pcs, "intact"), "ok");

      // Truncations: every byte of the header, and around every sub-table boundary.
      const cuts = new Set<number>();
      for (let i = 0; i <= 80; i++) cuts.add(i);
      for (const [, s, e] of base.regions)
        for (const x of [s, e]) for (let d = -9; d <= 9; d++) cuts.add(x + d);
      for (let k = 1; k < 8; k++) cuts.add(Math.floor((bytes.length * k) / 8));
      const kinds = new Map<string, number>();
      for (const c of cuts) {
        if (c < 0 || c >= bytes.length) continue;
        const k = exercise(bytes.slice(0, c), opts, pcs, `truncated at ${c}`);
        kinds.set(k, (kinds.get(k) ?? 0) + 1);
      }
      assert.ok((kinds.get("truncated") ?? 0) + (kinds.get("corrupt") ?? 0) > 0, "truncations are reported");

      // Mutations: a few random bytes inside one region at a time.
      const r = rng(name.length * 31 + 7);
      for (let m = 0; m < 60; m++) {
        const [region, s, e] = base.regions[m % base.regions.length]!;
        if (e <= s) continue;
        const mutated = bytes.slice();
        const n = 1 + Math.floor(r() * 8);
        for (let j = 0; j < n; j++) mutated[s + Math.floor(r() * (e - s))] = Math.floor(r() * 256);
        exercise(mutated, opts, pcs, `mutation ${m} of ${region}`);
      }

      // Inline records served damaged.
      for (let m = 0; m < 10; m++) {
        const rr = rng(m + 1);
        const bad: ParseOptions = {
          ...opts,
          readMemory: (a, n) => {
            const v = opts.readMemory?.(a, n);
            if (v === undefined) return v;
            const c = v.slice();
            for (let j = 0; j < 4; j++) c[Math.floor(rr() * c.length)] = Math.floor(rr() * 256);
            return c;
          },
        };
        const mutated = bytes.slice();
        exercise(mutated, bad, pcs, `damaged inline records ${m}`);
      }
    });
  }

  test("whole binaries with a damaged pclntab open cleanly and resolve() never throws", () => {
    const base = load("esbuild-0.25.0-linux-amd64");
    const r = rng(99);
    for (let m = 0; m < 12; m++) {
      const file = base.file.slice();
      const [, s, e] = base.regions[m % base.regions.length]!;
      for (let j = 0; j < 16; j++)
        file[base.fileOffset + s + Math.floor(r() * (e - s))] = Math.floor(r() * 256);
      let b: ReturnType<typeof openBinary> | undefined;
      try {
        b = openBinary(new BufferSource(file));
      } catch (e) {
        assert.ok(e instanceof GosymdError, `open: ${(e as Error).stack}`);
        continue;
      }
      for (const pc of [...base.pcs, -1, 1.5, Number.NaN, 2 ** 60]) {
        const res = b.resolve(pc);
        assert.ok(res.frames.length > 0 || res.reason !== undefined, "an answer or a reason");
      }
    }
  });
});

describe("names kept as bytes", () => {
  test("namesAsString: false (what a funcnametab too large for a string gets) answers the same", () => {
    for (const name of [
      "esbuild-0.25.0-linux-amd64",
      "esbuild-0.28.2-linux-amd64",
      "esbuild-0.13.15-linux-amd64",
    ]) {
      const base = load(name);
      const a = parsePclntab(base.bytes, base.opts);
      const b = parsePclntab(base.bytes, { ...base.opts, namesAsString: false });
      assert.ok(a.namesInString && !b.namesInString, name);
      assert.equal(b.wrapperFuncID(), a.wrapperFuncID(), `${name}: wrapper FuncID`);
      assert.ok(a.wrapperFuncID() >= 0, `${name}: has runtime.deferreturn`);
      for (let i = 0; i < a.nfunc; i += 7)
        assert.equal(b.funcName(i), a.funcName(i), `${name}: function ${i}`);
      const ea = new Expansion();
      const eb = new Expansion();
      for (const pc of base.pcs) {
        assert.equal(b.expand(pc, eb), a.expand(pc, ea));
        assert.equal(eb.count, ea.count);
        for (let k = 0; k < ea.count; k++) {
          assert.equal(b.nameAt(eb.nameOff[k]!), a.nameAt(ea.nameOff[k]!));
          assert.equal(eb.file[k], ea.file[k]);
          assert.equal(eb.line[k], ea.line[k]);
        }
      }
      // The table's bytes read back the same either way.
      assert.deepEqual(Buffer.from(a.bytes), Buffer.from(b.bytes));
    }
  });
});

describe("hostile pclntabs: error offsets", () => {
  test("errors name offsets in the table as given (names are kept as a string, the bytes after them rebased)", () => {
    const base = load("esbuild-0.25.0-linux-amd64");
    const h = parsePclntab(base.bytes, base.opts).header;
    const t0 = parsePclntab(base.bytes, base.opts);
    const i = Math.floor(t0.nfunc / 2);
    const fo = t0.funcRecordOffset(i);
    const pc = t0.entry(i) + 1;
    const corruptOffset = (mutate: (dv: DataView) => void): number | undefined => {
      const b = base.bytes.slice();
      mutate(new DataView(b.buffer));
      const t = parsePclntab(b, base.opts);
      try {
        t.expand(pc, new Expansion());
      } catch (e) {
        assert.ok(e instanceof GosymdError, String(e));
        return e.offset;
      }
      return undefined;
    };
    // A line table offset past pctab: reported at the table offset it names.
    const past = h.pctabEnd - h.pctab + 5;
    assert.equal(
      corruptOffset((dv) => dv.setUint32(fo + t0.layout.pcln, past, true)),
      h.pctab + past,
    );
    // A line table whose last byte is pctab's last and reads on: overrun at pctab's end.
    assert.equal(
      corruptOffset((dv) => {
        dv.setUint32(fo + t0.layout.pcln, h.pctabEnd - 1 - h.pctab, true);
        dv.setUint8(h.pctabEnd - 1, 0x02); // value +1, then the pc delta would follow
      }),
      h.pctabEnd,
    );
  });
});

describe("hostile pclntabs: work bounds", () => {
  test("a shared never-ending inline index table neither hangs loading nor lookups", () => {
    const base = load("esbuild-0.25.0-linux-amd64");
    const b = base.bytes.slice();
    const dv = new DataView(b.buffer);
    const h = parsePclntab(base.bytes, base.opts).header;
    // 1 MiB of (value +1, pc +0) steps at the start of pctab: a table that never advances.
    const runStart = h.pctab + 1;
    const runEnd = Math.min(h.pctabEnd, runStart + 1024 * 1024);
    for (let p = runStart; p + 1 < runEnd; p += 2) {
      b[p] = 0x02;
      b[p + 1] = 0x00;
    }
    // Point every function's InlTreeIndex (pcdata 2) and pcln at it.
    const t0 = parsePclntab(base.bytes, base.opts);
    for (let i = 0; i < t0.nfunc; i++) {
      const fo = t0.funcRecordOffset(i);
      const np = dv.getUint32(fo + t0.layout.npcdata, true);
      dv.setUint32(fo + t0.layout.pcln, 1, true);
      if (np > 2) dv.setUint32(fo + t0.layout.size + 8, 1, true);
    }
    // Both ways of reading inline trees: the funcdata region as one piece (what openBinary does for
    // 1.18+), and sized from each function's InlTreeIndex table (without the region's end).
    const { funcdataEnd: _, ...scanOpts } = base.opts;
    assert.ok(base.opts.funcdataEnd !== undefined, "this fixture has a funcdata region");
    // Each lookup here walks to its step budget, so a sample of the PCs shows the bound (the whole
    // list through both paths takes seconds on a loaded machine).
    const pcs = base.pcs.filter((_, k) => k % 5 === 0);
    for (const opts of [base.opts, scanOpts]) {
      const start = performance.now();
      const outcome = exercise(b, opts, pcs, "never-ending tables");
      const ms = performance.now() - start;
      assert.ok(ms < 20_000, `bounded work (${ms.toFixed(0)} ms, ${outcome})`);
      // Inline trees are not allowed to balloon past the table's own size.
      const t = parsePclntab(b, opts);
      assert.ok(t.inlineBytes <= b.length + (1 << 20), `inline records ${t.inlineBytes} bytes`);
    }
    // Sized from such tables, the damaged trees are reported missing.
    assert.ok(parsePclntab(b, scanOpts).inlineTreesMissing > 0, "the damaged trees are reported missing");
  });
});
