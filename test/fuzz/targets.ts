/**
 * The fuzz targets: what an input is, where its seeds come from, how it is mutated (shape,
 * dictionary, text mode) and what is run on it. `run` throws only what the property allows (a
 * GosymdError, unless `neverThrows`) or a PropertyViolation for a wrong-but-not-thrown result;
 * the worker treats anything else as a finding.
 *
 * Every target module is imported lazily (inside setup) so the worker can start V8 coverage first.
 */
import { readFileSync } from "node:fs";
import { gunzipSync, gzipSync } from "node:zlib";
import type { ParseOptions } from "../../src/gopclntab/table.js";
import type { ObjectFile } from "../../src/object/types.js";
import type { GoBinary } from "../../src/symtab/api.js";
import { npmFixture } from "../support/fixtures.js";
import { CRASH_TOKENS, type MutateOptions, mutateBytes, type Parent } from "./mutate.js";
import type { Rng } from "./rng.js";
import {
  containerShape,
  elfShape,
  emptyShape,
  goBlobShape,
  mergeShapes,
  protoShape,
  type Region,
  type Shape,
  shiftShape,
} from "./shape.js";

/** A result that is wrong without an exception (e.g. resolve() threw, a field is not a number). */
export class PropertyViolation extends Error {
  override readonly name = "PropertyViolation";
}

/**
 * Results must be well-formed data: no NaN or infinite numbers (JSON would turn them into null
 * silently), no undefined array holes where values are expected. Walks at most `budget` values.
 */
export function assertSane(value: unknown, what: string, budget = 200_000): void {
  let left = budget;
  const seen = new Set<object>();
  const walk = (v: unknown, path: string): void => {
    if (--left < 0) return;
    if (typeof v === "number") {
      if (!Number.isFinite(v)) throw new PropertyViolation(`${what}: ${path} is ${v}`);
    } else if (Array.isArray(v)) {
      if (seen.has(v)) return;
      seen.add(v);
      for (let i = 0; i < v.length && left > 0; i++) {
        if (!(i in v)) throw new PropertyViolation(`${what}: ${path}[${i}] is a hole`);
        walk(v[i], `${path}[${i}]`);
      }
    } else if (v !== null && typeof v === "object" && !ArrayBuffer.isView(v)) {
      if (seen.has(v)) return;
      seen.add(v);
      for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`);
    }
  };
  walk(value, "result");
}

export interface Seed {
  name: string;
  bytes: Uint8Array;
  context: number;
}

export interface TargetSetup {
  /** Names of the contexts inputs are run in (a binary, parse options, a resolver...). */
  contexts: string[];
  seeds: Seed[];
  maxLen: number;
  dictionary?: Uint8Array[];
  /** Inputs are UTF-8 text, mutated line-wise. */
  text?: boolean;
  /** Structure of an input (run on seeds and on corpus additions). */
  shapeOf(bytes: Uint8Array, context: number): Shape;
  /** Runs one input; returns a short outcome tag for the statistics. */
  run(input: Uint8Array, context: number): string | undefined | Promise<string | undefined>;
  /** The call must not throw at all (not even a GosymdError). */
  neverThrows?: boolean;
  /** A case slower than this is a finding (confirmed by a second run). */
  slowMs: number;
  /** Cases run between two coverage takes (default 8): more for fast targets. */
  batchCases?: number;
  /** A target's own mutation (e.g. inside a compressed container); undefined: the generic one. */
  mutate?(r: Rng, parent: Parent, other: Parent | undefined, opt: MutateOptions): Uint8Array | undefined;
}

export interface Target {
  name: string;
  description: string;
  setup(opts: { quick: boolean }): Promise<TargetSetup>;
}

const enc = (s: string) => Buffer.from(s, "latin1");
const u8 = (b: Buffer | Uint8Array) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

async function helloBinaries(names: string[]): Promise<Array<{ name: string; path: string }>> {
  const { helloBuild } = await import("../object/support.js");
  return names.map((n) => ({ name: `hello ${n}`, path: helloBuild(n) }));
}

function npm(names: string[]): Array<{ name: string; path: string }> {
  return names.map((n) => ({ name: n, path: npmFixture(n) }));
}

/** Scales region weights (to favour one part of a merged shape). */
function weigh(s: Shape, w: number): Shape {
  return { ...s, regions: s.regions.map((r) => ({ ...r, weight: (r.weight ?? 1) * w })) };
}

// ---------------------------------------------------------------------------------------------

const objectTarget: Target = {
  name: "object",
  description: "container readers: openObject, sections, symbols(), notes(), build IDs",
  async setup({ quick }) {
    const { BufferSource } = await import("../../src/bytes/source.js");
    const { openObject } = await import("../../src/object/open.js");
    const { computeBuildIds, gnuBuildId, goBuildId } = await import("../../src/object/buildid.js");
    const { fatBytes, helloBuild } = await import("../object/support.js");
    const files = await helloBinaries(
      quick
        ? ["go1.23", "linux-386", "darwin-amd64-uuid", "windows-amd64"]
        : [
            "go1.19",
            "go1.23",
            "pie",
            "gnu-buildid",
            "linux-386",
            "linux-ppc64",
            "linux-mips",
            "linux-arm64",
            "darwin-arm64",
            "darwin-amd64-uuid",
            "windows-amd64",
            "windows-386-stripped",
          ],
    );
    const seeds: Seed[] = files.map((f) => ({ name: f.name, bytes: u8(readFileSync(f.path)), context: 0 }));
    seeds.push({
      name: "fat darwin",
      bytes: u8(fatBytes([helloBuild("darwin-arm64"), helloBuild("darwin-amd64-uuid")])),
      context: 0,
    });
    if (!quick) {
      for (const f of npm(["esbuild-0.5.26-linux-amd64", "esbuild-0.8.57-darwin-amd64"]))
        seeds.push({ name: f.name, bytes: u8(readFileSync(f.path)), context: 0 });
    }
    const maxLen = Math.max(...seeds.map((s) => s.bytes.length)) + (1 << 20);
    return {
      contexts: ["default"],
      seeds,
      maxLen,
      dictionary: [
        ".gopclntab",
        ".go.buildinfo",
        ".note.go.buildid",
        "__TEXT",
        "__gopclntab",
        "GNU",
        "Go",
      ].map((s) => u8(enc(`${s}\0`))),
      shapeOf: (b) => mergeShapes(containerShape(b), goBlobShape(b)),
      slowMs: 2000,
      run(input) {
        const touch = (obj: ObjectFile) => {
          obj.symbols();
          obj.notes();
          gnuBuildId(obj);
          goBuildId(obj);
          computeBuildIds(obj, input.length < 4 << 20 ? undefined : null);
          obj.sectionAt(obj.entry);
          obj.section(".gopclntab");
          obj.section("__TEXT,__text");
          for (const s of obj.sections.slice(0, 256)) {
            const at = obj.sectionAt(s.addr);
            if (at !== undefined && !(at.addr <= s.addr && s.addr < at.addr + at.size))
              throw new PropertyViolation(
                `sectionAt(0x${s.addr.toString(16)}) is ${at.name}, which does not contain it`,
              );
            const v = obj.readVirtual(s.addr, 16);
            if (v !== undefined && v.length !== 16)
              throw new PropertyViolation(`readVirtual gave ${v.length} bytes`);
            if (s.fileSize < 4 << 20 && obj.sectionBytes(s).length !== s.fileSize)
              throw new PropertyViolation(`sectionBytes(${s.name}) is not fileSize long`);
          }
          for (const s of obj.segments.slice(0, 256)) obj.readVirtual(s.vaddr + s.fileSize - 8, 8);
          const syms = obj.symbols();
          for (let i = 1; i < syms.length; i++)
            if (syms[i - 1]!.addr > syms[i]!.addr)
              throw new PropertyViolation(`symbols() not sorted at ${i}`);
          assertSane(
            { sections: obj.sections, segments: obj.segments, entry: obj.entry, syms: syms.slice(0, 2000) },
            "object",
          );
        };
        const obj = openObject(new BufferSource(input));
        touch(obj);
        if (input[0] === 0xca && input[1] === 0xfe)
          touch(openObject(new BufferSource(input), { arch: "arm64" }));
        return `${obj.format} ${obj.arch}`;
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------

const buildinfoTarget: Target = {
  name: "buildinfo",
  description: "readBuildInfo / readRawBuildInfo / parseModInfo on binaries with damaged buildinfo blobs",
  async setup({ quick }) {
    const { BufferSource } = await import("../../src/bytes/source.js");
    const { openObject } = await import("../../src/object/open.js");
    const bi = await import("../../src/buildinfo/buildinfo.js");
    const files = await helloBinaries(
      quick
        ? ["go1.23", "quoted-ldflags", "linux-ppc64"]
        : [
            "go1.19",
            "go1.23",
            "quoted-ldflags",
            "linux-ppc64",
            "linux-386",
            "darwin-amd64-uuid",
            "windows-amd64",
          ],
    );
    const all = quick
      ? files
      : [...files, ...npm(["esbuild-0.8.57-linux-amd64", "esbuild-0.5.26-linux-amd64"])];
    const seeds: Seed[] = all.map((f) => ({ name: f.name, bytes: u8(readFileSync(f.path)), context: 0 }));
    const dictionary = [
      "\t",
      "\n",
      "path\t",
      "mod\t",
      "dep\t",
      "=>\t",
      "build\t",
      "=",
      '"',
      "\\",
      "\\x",
      "\0",
      " ",
      "go1.",
      "h1:",
      "(devel)",
      "-ldflags=",
      "vcs.revision",
      "\x80",
      "\xff\xff\xff\xff\x0f",
      "\xff Go buildinf:",
      "0w\xaf\f\x92t\b\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6",
      "\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2",
    ].map((s) => u8(enc(s)));
    return {
      contexts: ["default"],
      seeds,
      maxLen: Math.max(...seeds.map((s) => s.bytes.length)) + (1 << 20),
      dictionary,
      shapeOf: (b) => mergeShapes(weigh(containerShape(b), 0.1), goBlobShape(b)),
      slowMs: 2000,
      batchCases: 16,
      run(input) {
        const obj = openObject(new BufferSource(input));
        bi.buildInfoDataStart(obj);
        const raw = bi.readRawBuildInfo(obj);
        if (raw !== undefined) bi.parseModInfo(raw.modinfo);
        const info = bi.readBuildInfo(obj);
        if (info === undefined) return "none";
        assertSane(info, "buildinfo");
        const text = bi.formatBuildInfo(info);
        if (typeof text !== "string") throw new PropertyViolation("formatBuildInfo returned a non-string");
        // Round trip, as Go's own ParseBuildInfo/String fuzz test: what we print parses back the
        // same. Two losses are Go's too (runtime/debug BuildInfo.String, which `go version -m`
        // prints and formatBuildInfo follows): a replaced module's sum is not printed, and a
        // version string holding a newline is printed raw (it reads back as more lines).
        const { goVersion, ...rest } = info;
        const unsum = (m: (typeof info)["main"]) => (m.replace === undefined ? m : { ...m, sum: "" });
        const want = { ...rest, main: unsum(rest.main), deps: rest.deps.map(unsum) };
        const again = bi.parseModInfo(text);
        if (!goVersion.includes("\n") && JSON.stringify(again) !== JSON.stringify(want))
          throw new PropertyViolation(
            `formatBuildInfo → parseModInfo changed the build info:\n${JSON.stringify(want)}\n${JSON.stringify(again)}`,
          );
        return `deps=${Math.min(info.deps.length, 3)}`;
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------

interface PclnContext {
  name: string;
  opts: ParseOptions;
  pcs: number[];
  /** Shape of the intact table (for mutated tables that no longer parse). */
  shape: Shape;
}

/** Sample of PCs of a table: random PCs inside functions, entries, ends, and addresses outside. */
function samplePcs(
  t: { nfunc: number; entry(i: number): number; end(i: number): number },
  n: number,
  seed: number,
): number[] {
  let s = seed >>> 0 || 1;
  const rnd = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const pcs: number[] = [];
  for (let k = 0; k < n; k++) {
    const i = Math.floor(rnd() * t.nfunc);
    const e = t.entry(i);
    pcs.push(k % 5 === 0 ? e : e + Math.floor(rnd() * Math.max(1, t.end(i) - e)));
  }
  pcs.push(t.entry(0) - 1, t.end(t.nfunc - 1), t.end(t.nfunc - 1) - 1, 0);
  return pcs;
}

type PclnTableT = import("../../src/gopclntab/table.js").PclnTable;

/** Fields and regions of a parsed pclntab: header words, functab, _func records, pc-value tables, names. */
function pclnShape(t: PclnTableT, bytes: Uint8Array): Shape {
  const h = t.header;
  const le = h.littleEndian;
  const s = emptyShape();
  const field = (off: number, size: 1 | 2 | 4 | 8) => {
    if (off >= 0 && off + size <= bytes.length) s.fields.push({ off, size, le });
  };
  const region = (name: string, a: number, b: number, kind: Region["kind"], weight = 1) => {
    const e = Math.min(b, bytes.length);
    if (e > a && a >= 0) s.regions.push({ name, start: a, end: e, kind, weight });
  };
  const ps = h.ptrSize;
  field(0, 4);
  field(6, 1);
  field(7, 1);
  const words = h.version === "1.2" ? 1 : h.version === "1.16" ? 7 : 8;
  for (let k = 0; k < words; k++) field(8 + k * ps, ps);
  region("header", 0, 8 + words * ps, "bytes", 4);
  const fs = h.functabFieldSize;
  const ftEnd = h.functab + (2 * h.nfunc + 1) * fs;
  region("functab", h.functab, ftEnd, "bytes", 3);
  s.boundaries.push(h.functab, ftEnd);
  if (h.version !== "1.2") {
    region("funcnametab", h.funcnametab, h.funcnametabEnd, "text", 0.5);
    region("cutab", h.cutab, h.cutabEnd, "bytes", 0.5);
    region("filetab", h.filetab, h.filetabEnd, "text", 0.5);
    region("pctab", h.pctab, h.pctabEnd, "varint", 1);
    s.boundaries.push(h.funcnametab, h.cutab, h.filetab, h.pctab, h.pctabEnd);
  }
  const L = t.layout;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = t.nfunc;
  const step = Math.max(1, Math.floor(n / 96));
  for (let i = 0; i < n; i += step) {
    field(h.functab + 2 * i * fs, fs);
    field(h.functab + (2 * i + 1) * fs, fs);
    const fo = t.funcRecordOffset(i);
    if (fo >= 0xfffffffe || fo + L.size > bytes.length) continue;
    region(`_func ${i}`, fo, fo + L.size + 16, "bytes", 0.2);
    for (const o of [L.nameOff, L.pcsp, L.pcfile, L.pcln, L.npcdata, L.cuOffset, L.startLine])
      if (o >= 0) field(fo + o, 4);
    if (L.funcID >= 0) field(fo + L.funcID, L.funcIDSize);
    if (L.nfuncdata >= 0) field(fo + L.nfuncdata, L.nfuncdataSize);
    field(fo, L.entrySize as 4 | 8);
    const np = Math.min(dv.getUint32(fo + L.npcdata, le), 8);
    for (let k = 0; k < np + 4; k++) field(fo + L.size + 4 * k, 4);
    const pctab = h.version === "1.2" ? 0 : h.pctab;
    for (const o of [L.pcsp, L.pcfile, L.pcln]) {
      const off = dv.getUint32(fo + o, le);
      if (off > 0) region(`pc table of ${i}`, pctab + off, pctab + off + 64, "varint", 0.3);
    }
    for (let k = 0; k < np; k++) {
      if (fo + L.size + 4 * k + 4 > bytes.length) break;
      const off = dv.getUint32(fo + L.size + 4 * k, le);
      if (off > 0) region(`pcdata ${k} of ${i}`, pctab + off, pctab + off + 64, "varint", 0.2);
    }
  }
  s.varints = [];
  return s;
}

const pclntabTarget: Target = {
  name: "pclntab",
  description: "parsePclntab + expand/names/pc-value lookups on extracted pclntab slices",
  async setup({ quick }) {
    const { FileSource } = await import("../../src/bytes/source.js");
    const { GosymdError } = await import("../../src/bytes/errors.js");
    const { openObject } = await import("../../src/object/open.js");
    const { readBuildInfo } = await import("../../src/buildinfo/buildinfo.js");
    const { locatePclntab } = await import("../../src/gopclntab/locate.js");
    const { Expansion, parsePclntab } = await import("../../src/gopclntab/table.js");
    const files = [
      ...(await helloBinaries(
        quick
          ? ["go1.23", "linux-386", "linux-ppc64"]
          : ["go1.19", "go1.21", "go1.23", "linux-386", "linux-ppc64", "linux-arm64", "windows-386-stripped"],
      )),
      ...npm(
        quick
          ? ["esbuild-0.5.26-linux-amd64", "esbuild-0.13.15-linux-amd64"]
          : [
              "esbuild-0.5.26-linux-amd64",
              "esbuild-0.13.15-linux-amd64",
              "esbuild-0.15.18-linux-amd64",
              "esbuild-0.25.0-linux-arm",
              "esbuild-0.28.2-linux-amd64",
            ],
      ),
    ];
    const contexts: PclnContext[] = [];
    const seeds: Seed[] = [];
    for (const f of files) {
      const src = new FileSource(f.path); // kept open: inline trees are read from it
      const obj = openObject(src);
      const loc = locatePclntab(obj);
      let goVersion: string | undefined;
      try {
        goVersion = readBuildInfo(obj)?.goVersion;
      } catch (e) {
        if (!(e instanceof GosymdError)) throw e;
      }
      const mem = new Map<string, Uint8Array | undefined>();
      const opts: ParseOptions = {
        addr: loc.addr,
        ...(loc.textStart !== undefined ? { textStart: loc.textStart } : {}),
        ...(loc.textSections !== undefined ? { textSections: loc.textSections } : {}),
        ...(loc.gofuncCandidates[0] !== undefined ? { gofunc: loc.gofuncCandidates[0] } : {}),
        ...(goVersion ? { goVersion } : {}),
        readMemory: (a, n) => {
          const k = `${a}:${n}`;
          if (mem.has(k)) return mem.get(k);
          if (mem.size > 4096) mem.clear();
          const v = obj.readVirtual(a, n);
          mem.set(k, v);
          return v;
        },
      };
      const t = parsePclntab(loc.bytes, opts);
      contexts.push({
        name: f.name,
        opts,
        pcs: samplePcs(t, 400, f.name.length),
        shape: pclnShape(t, loc.bytes),
      });
      seeds.push({ name: f.name, bytes: new Uint8Array(loc.bytes), context: contexts.length - 1 });
    }
    const ex = new Expansion();
    const isInt = (x: unknown) => typeof x === "number" && Number.isSafeInteger(x);
    return {
      contexts: contexts.map((c) => c.name),
      seeds,
      maxLen: Math.max(...seeds.map((s) => s.bytes.length)) + (1 << 20),
      dictionary: ["\0", "runtime.", "main.main", ".go", "/", "\xff"].map((s) => u8(enc(s))),
      shapeOf(b, c) {
        try {
          return pclnShape(parsePclntab(b, contexts[c]!.opts), b);
        } catch {
          return contexts[c]!.shape;
        }
      },
      slowMs: 2000,
      run(input, c) {
        const ctx = contexts[c]!;
        const t = parsePclntab(input, ctx.opts);
        let frames = 0;
        let errors = 0;
        const guard = (fn: () => void) => {
          try {
            fn();
          } catch (e) {
            if (!(e instanceof GosymdError)) throw e;
            errors++;
          }
        };
        for (const pc of ctx.pcs) {
          guard(() => {
            const found = t.expand(pc, ex);
            if (!found) return;
            for (let k = 0; k < ex.count; k++) {
              const name = t.nameAt(ex.nameOff[k]!);
              if (typeof name !== "string" || typeof ex.file[k] !== "string" || !isInt(ex.line[k]))
                throw new PropertyViolation(`expand(${pc}) frame ${k}: name/file/line of the wrong type`);
              if (ex.line[k]! < 0 || !isInt(ex.startLine[k]) || ex.startLine[k]! < 0)
                throw new PropertyViolation(
                  `expand(${pc}) frame ${k}: line ${ex.line[k]}, start line ${ex.startLine[k]} (lines are ≥ 0)`,
                );
              frames++;
            }
          });
        }
        const n = t.nfunc;
        const step = Math.max(1, Math.floor(n / 200));
        for (let i = 0; i < n; i += step) {
          const e = t.entry(i);
          const f = t.findFunc(e);
          if (!isInt(f) || f < -1 || f >= n) throw new PropertyViolation(`findFunc(${e}) = ${f}`);
          guard(() => {
            if (typeof t.funcName(i) !== "string") throw new PropertyViolation(`funcName(${i})`);
          });
          guard(() => {
            for (const v of [t.funcID(i), t.funcFlag(i), t.startLine(i), t.lineTableOffset(i)])
              if (!isInt(v)) throw new PropertyViolation(`function ${i}: a field read as ${v}`);
            if (t.startLine(i) < 0)
              throw new PropertyViolation(`function ${i}: start line ${t.startLine(i)}`);
          });
          guard(() => {
            const d = t.spDelta(i, e + 1);
            if (!isInt(d)) throw new PropertyViolation(`spDelta(${i}) = ${d}`);
          });
          guard(() => {
            const v = t.pcdata(i, 0, e);
            if (!isInt(v)) throw new PropertyViolation(`pcdata(${i}) = ${v}`);
          });
        }
        if (!isInt(t.memoryBytes) || !isInt(t.inlineBytes)) throw new PropertyViolation("memoryBytes");
        return `${t.version} ${frames > 0 ? "frames" : "no-frames"}${errors > 0 ? " some-corrupt" : ""}`;
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------

const symtabTarget: Target = {
  name: "symtab",
  description:
    "openBinary (container → buildinfo → locate + parse pclntab → symbols) + resolve over many PCs",
  async setup({ quick }) {
    const { BufferSource } = await import("../../src/bytes/source.js");
    const { openObject } = await import("../../src/object/open.js");
    const { locatePclntab } = await import("../../src/gopclntab/locate.js");
    const { parsePclntab } = await import("../../src/gopclntab/table.js");
    const { openBinary } = await import("../../src/symtab/binary.js");
    const files = await helloBinaries(
      quick
        ? ["go1.23", "go1.19", "linux-386", "darwin-amd64-uuid", "windows-amd64"]
        : [
            "go1.19",
            "go1.21",
            "go1.23",
            "pie",
            "trimpath-stripped",
            "linux-386",
            "linux-ppc64",
            "linux-arm64",
            "darwin-arm64",
            "darwin-amd64-uuid",
            "windows-amd64",
            "windows-386-stripped",
          ],
    );
    const seeds: Seed[] = [];
    const contexts: Array<{ name: string; pcs: number[]; shape: Shape }> = [];
    for (const f of files) {
      const bytes = u8(readFileSync(f.path));
      const obj = openObject(new BufferSource(bytes));
      const loc = locatePclntab(obj);
      const t = parsePclntab(loc.bytes, loc.textStart === undefined ? {} : { textStart: loc.textStart });
      const sec = obj.sections.find((s) => s.addr === loc.addr && s.fileSize > 0);
      const parts: Shape[] = [];
      if (sec !== undefined)
        parts.push(shiftShape(weigh(pclnShape(t, loc.bytes), 2), sec.offset, "pclntab "));
      const md = loc.moduledata;
      const mdSec = md === undefined ? undefined : obj.sectionAt(md.addr);
      if (md !== undefined && mdSec !== undefined && mdSec.fileSize > 0) {
        const off = mdSec.offset + (md.addr - mdSec.addr);
        parts.push({
          ...emptyShape(),
          regions: [
            {
              name: "moduledata",
              start: off,
              end: off + 80 * obj.ptrSize,
              kind: "words",
              weight: 4,
              vaddr: md.addr,
              ptrSize: obj.ptrSize,
              le: obj.littleEndian,
            },
          ],
          fields: Array.from({ length: 80 }, (_, k) => ({
            off: off + k * obj.ptrSize,
            size: obj.ptrSize,
            le: obj.littleEndian,
          })),
        });
      }
      // go:func.* (1.18+): funcdata, including the inline trees, is at offsets from gofunc.
      const gofunc = loc.gofuncCandidates[0];
      const gfSec = gofunc === undefined ? undefined : obj.sectionAt(gofunc);
      if (gofunc !== undefined && gfSec !== undefined && gfSec.fileSize > 0) {
        const off = gfSec.offset + (gofunc - gfSec.addr);
        const end = Math.min(gfSec.offset + gfSec.fileSize, off + (256 << 10));
        parts.push({
          ...emptyShape(),
          regions: [{ name: "go:func.* (inline trees)", start: off, end, kind: "bytes", weight: 3 }],
        });
      }
      contexts.push({ name: f.name, pcs: samplePcs(t, 150, f.name.length), shape: mergeShapes(...parts) });
      seeds.push({ name: f.name, bytes, context: contexts.length - 1 });
    }
    const odd = [-1, 0.5, Number.NaN, 2 ** 60, Number.MAX_SAFE_INTEGER];
    return {
      contexts: contexts.map((c) => c.name),
      seeds,
      maxLen: Math.max(...seeds.map((s) => s.bytes.length)) + (1 << 20),
      shapeOf: (b, c) => mergeShapes(weigh(containerShape(b), 0.5), goBlobShape(b), contexts[c]!.shape),
      slowMs: 2000,
      run(input, c) {
        const b: GoBinary = openBinary(new BufferSource(input), { sha256: null });
        let frames = 0;
        for (const pc of [...contexts[c]!.pcs, ...odd]) {
          let res: ReturnType<GoBinary["resolve"]>;
          try {
            res = b.resolve(pc);
          } catch (e) {
            throw new PropertyViolation(`resolve(${pc}) threw: ${(e as Error)?.message}`, { cause: e });
          }
          if (!Array.isArray(res.frames) || (res.frames.length === 0 && res.reason === undefined))
            throw new PropertyViolation(`resolve(${pc}): neither frames nor a reason`);
          res.frames.forEach((fr, k) => {
            if (typeof fr.function !== "string" || !Number.isSafeInteger(fr.line))
              throw new PropertyViolation(`resolve(${pc}): a frame with function/line of the wrong type`);
            if (fr.line < 0 || fr.startLine < 0)
              throw new PropertyViolation(
                `resolve(${pc}): frame ${k} has line ${fr.line}, start line ${fr.startLine}`,
              );
            if (fr.inlined !== k < res.frames.length - 1)
              throw new PropertyViolation(
                `resolve(${pc}): frame ${k} of ${res.frames.length} has inlined=${fr.inlined}`,
              );
            if (fr.source === "pclntab" && !(fr.entry <= pc))
              throw new PropertyViolation(`resolve(${pc}): frame ${k} has entry ${fr.entry} above the pc`);
          });
          assertSane(res, `resolve(${pc})`);
          frames += res.frames.length;
        }
        assertSane(b.info, "info");
        if (!Number.isSafeInteger(b.memoryBytes)) throw new PropertyViolation(`memoryBytes ${b.memoryBytes}`);
        b.close();
        return `${b.info.format} ${frames > 0 ? "frames" : "no-frames"}`;
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------

const crashTarget: Target = {
  name: "crash",
  description: "attributeText + renderReport on damaged crash logs (never throws)",
  async setup({ quick }) {
    const { attributeText } = await import("../../src/crash/attribute.js");
    const { renderReport } = await import("../../src/crash/report.js");
    const { generateDump } = await import("../crash/gen.js");
    const { crashTexts } = await import("./seeds.js");
    const texts = await crashTexts(quick);
    texts.push({ name: "generated dump", text: generateDump(40) });
    const seeds: Seed[] = texts.map((t) => ({
      name: t.name,
      bytes: u8(Buffer.from(t.text, "utf8")),
      context: 0,
    }));
    const dec = new TextDecoder("utf-8", { fatal: false });
    return {
      contexts: ["default"],
      seeds,
      maxLen: 4 << 20,
      text: true,
      dictionary: CRASH_TOKENS.map((t) => u8(Buffer.from(t, "utf8"))),
      shapeOf: (b) => ({
        ...emptyShape(),
        regions: [{ name: "text", start: 0, end: b.length, kind: "text" }],
      }),
      neverThrows: true,
      slowMs: 2000,
      batchCases: 16,
      run(input) {
        // Half the inputs with a main module and its revision (in-app culprits, source URLs).
        const r = attributeText(
          dec.decode(input),
          input.length % 2 === 0
            ? {}
            : {
                mainModule: "example.com/crashcorpus",
                vcsRevision: "0123456789abcdef",
                modules: [{ path: "github.com/x/y", version: "v1.2.3" }],
              },
        );
        const report = renderReport(r);
        if (typeof report !== "string") throw new PropertyViolation("renderReport returned a non-string");
        if (!(r.primaryIndex >= -1 && r.primaryIndex < r.crashes.length))
          throw new PropertyViolation(`primaryIndex ${r.primaryIndex} of ${r.crashes.length} crashes`);
        if (r.primaryIndex >= 0 && r.crashes[r.primaryIndex]!.fingerprint !== r.fingerprint)
          throw new PropertyViolation("the top-level fingerprint is not the primary crash's");
        assertSane(r, "attributeText");
        return `${r.category} ${r.crashes.length > 1 ? "many" : r.crashes.length}`;
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------

const pprofTarget: Target = {
  name: "pprof",
  description: "symbolizeProfile on damaged profiles (raw and gzipped); the output must parse again",
  async setup() {
    const { openBinaryFile } = await import("../../src/symtab/binary.js");
    const { GosymdError } = await import("../../src/bytes/errors.js");
    const { symbolizeProfile } = await import("../../src/pprof/symbolize.js");
    const { indexProfile } = await import("../../src/pprof/decode.js");
    const { FakeBinary, ProfileBuilder, decodeProfile, stripProfile } = await import("../pprof/support.js");
    type PProfile = ReturnType<typeof decodeProfile>;
    const independent = (input: Uint8Array): PProfile | undefined => {
      try {
        return decodeProfile(input[0] === 0x1f && input[1] === 0x8b ? gunzipSync(input) : input);
      } catch {
        return undefined;
      }
    };
    const { oracleProfile } = await import("./seeds.js");
    const seed = oracleProfile();
    const real = openBinaryFile(seed.binary);
    const raw = gunzipSync(seed.gz);
    const stripped = gunzipSync(stripProfile(decodeProfile(raw)));
    const fakeFuncs = [
      {
        name: "main.main",
        file: "/src/main.go",
        entry: 0x401000,
        end: 0x401100,
        startLine: 5,
        inlined: {
          start: 0x401040,
          end: 0x401060,
          chain: [
            { name: "main.leaf", file: "/src/leaf.go", startLine: 10 },
            { name: "main.(*T).M-fm", file: "<autogenerated>", startLine: 1, wrapper: true },
          ],
        },
      },
      { name: "main.worker", file: "/src/worker.go", entry: 0x401100, end: 0x401200, startLine: 30 },
    ];
    const pb = new ProfileBuilder();
    pb.mapping({ id: 1, start: 0x400000, limit: 0x580000, file: "/usr/bin/app", buildId: "aabbcc" });
    pb.mapping({
      id: 2,
      start: 0x7f0000000000,
      limit: 0x7f0000200000,
      file: "/lib/libc.so.6",
      buildId: "libc",
    });
    pb.mapping({
      id: 3,
      start: "18446744071562067968",
      limit: "18446744073709551615",
      file: "[k]",
      buildId: "k",
    });
    pb.func(1, "main.worker", "/src/worker.go", 30);
    pb.location(1, 1, 0x401010);
    pb.location(2, 1, 0x401050);
    pb.location(3, 1, 0x401150, [[1, 31]]);
    pb.location(4, 2, 0x7f0000001234);
    pb.location(5, 3, "18446744071578845184");
    pb.location(6, 0, 0x401010);
    pb.sample([1, 2, 3], [1, 10_000_000], ["thread", "t1"]);
    pb.sample([4, 5, 6], [2, 20_000_000]);
    const synthetic = pb.build();
    const fake = new FakeBinary(fakeFuncs);
    const segments = real.info.segments ?? [];
    const resolvers = [
      // A fresh object per call: the per-binary PC memo starts empty, so runs are reproducible.
      (id: string) => (id === "" ? undefined : { binary: Object.create(real) as GoBinary, segments }),
      (id: string) => (id === "libc" ? undefined : (Object.create(fake) as GoBinary)),
    ];
    const seeds: Seed[] = [
      { name: "runtime/pprof CPU profile", bytes: u8(raw), context: 0 },
      { name: "runtime/pprof CPU profile, gzipped", bytes: u8(seed.gz), context: 0 },
      { name: "runtime/pprof CPU profile, stripped", bytes: u8(stripped), context: 0 },
      { name: "synthetic profile", bytes: synthetic, context: 1 },
      { name: "synthetic profile, gzipped", bytes: u8(gzipSync(synthetic)), context: 1 },
    ];
    return {
      contexts: ["pprof-oracle binary", "fake binary"],
      seeds,
      maxLen: 8 << 20,
      // Gzipped profiles: mostly mutate what is inside and compress again (byte damage to the
      // stream itself mostly ends at the CRC check).
      mutate(r, parent, other, opt) {
        const p = parent.bytes;
        if (p[0] !== 0x1f || p[1] !== 0x8b || r.chance(0.2)) return undefined;
        let inner: Uint8Array;
        try {
          inner = gunzipSync(p);
        } catch {
          return undefined;
        }
        const m = mutateBytes(r, { bytes: inner, shape: protoShape(inner) }, other, opt);
        return u8(gzipSync(m, { level: 1 }));
      },
      shapeOf: (b) =>
        b[0] === 0x1f && b[1] === 0x8b
          ? { ...emptyShape(), regions: [{ name: "gzip header", start: 0, end: 16, kind: "bytes" }] }
          : protoShape(b),
      slowMs: 3000,
      batchCases: 32,
      async run(input, c) {
        const redo = input.length % 3 === 0;
        let res: Awaited<ReturnType<typeof symbolizeProfile>>;
        try {
          res = await symbolizeProfile(input, resolvers[c]!, {
            output: input.length % 5 === 0 ? "gzip" : "raw",
            redo,
            elideWrappers: input.length % 2 === 0,
            maxProfileBytes: 64 << 20,
          });
        } catch (e) {
          // Rejecting what protobufjs reads is allowed (limits, stricter checks) but worth counting.
          if (e instanceof GosymdError && independent(input) !== undefined)
            return `rejected-valid ${e.kind} ${(e.field ?? "").replace(/\d+/g, "N")}`;
          throw e;
        }
        const out = res.gzipped ? gunzipSync(res.profile) : res.profile;
        try {
          indexProfile(new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
        } catch (e) {
          throw new PropertyViolation(`the symbolized profile does not parse: ${(e as Error).message}`, {
            cause: e,
          });
        }
        assertSane(res.stats, "stats");
        // An independent decoder (protobufjs over profile.proto): when it reads the input, it must
        // read the output too, with the same samples and locations, and every reference resolved.
        const before = independent(input);
        if (before !== undefined) {
          let after: PProfile;
          try {
            after = decodeProfile(out);
          } catch (e) {
            throw new PropertyViolation(`protobufjs cannot read our output: ${(e as Error).message}`, {
              cause: e,
            });
          }
          if (after.sample.length !== before.sample.length)
            throw new PropertyViolation(`${before.sample.length} samples in, ${after.sample.length} out`);
          const ids = (p: PProfile) => p.location.map((l) => l.id).join(",");
          if (ids(after) !== ids(before)) throw new PropertyViolation("location ids changed");
          const fns = new Set(after.function.map((f) => f.id));
          const had = new Set(before.function.map((f) => f.id));
          const nStr = after.string_table.length;
          for (const f of after.function.filter((x) => !had.has(x.id)))
            for (const k of [f.name, f.system_name, f.filename])
              if (!(Number(k) >= 0 && Number(k) < nStr))
                throw new PropertyViolation(`function ${f.id} names string ${k} of ${nStr}`);
          after.location.forEach((l, i) => {
            if (JSON.stringify(l.line) === JSON.stringify(before.location[i]!.line)) return; // passed through
            for (const ln of l.line)
              if (!fns.has(ln.function_id))
                throw new PropertyViolation(
                  `location ${l.id} got a line naming missing function ${ln.function_id}`,
                );
          });
        }
        return `resolved=${res.stats.resolved > 0} unresolved=${res.stats.unresolved > 0}${before === undefined ? " invalid-proto" : ""}`;
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------

const coreTarget: Target = {
  name: "core",
  description: "readCore + attribution on damaged ELF cores (headers, notes, registers, goroutine memory)",
  async setup({ quick }) {
    const { BufferSource, FileSource } = await import("../../src/bytes/source.js");
    const { openBinaryFile } = await import("../../src/symtab/binary.js");
    const { attributeCoreSource } = await import("../../src/core/attribute.js");
    const { readCore } = await import("../../src/core/read.js");
    const { coreSeeds } = await import("./seeds.js");
    const cores = await coreSeeds(quick);
    const contexts: Array<{
      name: string;
      binary: GoBinary;
      exe: InstanceType<typeof FileSource>;
      shape: Shape;
    }> = [];
    const seeds: Seed[] = [];
    for (const c of cores) {
      const binary = openBinaryFile(c.binary);
      const exe = new FileSource(c.binary);
      const r = readCore(new BufferSource(c.core), exe, { binary });
      // Memory worth damaging: each goroutine's g, the M structs and the tops of the stacks.
      const elf = elfShape(c.core)!;
      const loads = elf.info.phdrs.filter((p) => p.type === 1 && p.filesz > 0);
      const regions: Region[] = [];
      const at = (name: string, vaddr: number, size: number, weight: number) => {
        const l = loads.find((p) => vaddr >= p.vaddr && vaddr < p.vaddr + p.filesz);
        if (l === undefined) return;
        const n = Math.min(size, l.vaddr + l.filesz - vaddr);
        const start = l.offset + (vaddr - l.vaddr);
        regions.push({ name, start, end: start + n, kind: "words", weight, vaddr, ptrSize: 8, le: true });
      };
      for (const g of r.goroutines.slice(0, 64)) {
        at(`g ${g.id}`, g.addr, 0x1c0, 1);
        for (const f of g.frames.slice(0, 4)) at(`stack of ${g.id}`, f.sp, 256, 0.5);
      }
      for (const t of r.threads.slice(0, 16)) {
        if (t.m !== undefined) at(`m ${t.m.id}`, t.m.addr, 0x400, 0.5);
        at(`thread ${t.tid} stack`, t.sp, 512, 0.5);
      }
      contexts.push({ name: c.name, binary, exe, shape: { ...emptyShape(), regions } });
      seeds.push({ name: c.name, bytes: c.core, context: contexts.length - 1 });
    }
    return {
      contexts: contexts.map((c) => c.name),
      seeds,
      maxLen: Math.max(...seeds.map((s) => s.bytes.length)) + (1 << 20),
      shapeOf: (b, c) => mergeShapes(elfShape(b)?.shape ?? emptyShape(), contexts[c]!.shape),
      slowMs: 3000,
      run(input, c) {
        const ctx = contexts[c]!;
        // Both ways of finding goroutines: runtime.allgs (needs symbols) and the memory scan.
        const discovery = input.length % 2 === 0 ? "auto" : "scan";
        const a = attributeCoreSource(new BufferSource(input), ctx.exe, {
          core: { binary: ctx.binary, discovery },
        });
        assertSane(a, "attribution");
        const r = a.core;
        assertSane(r, "core");
        return `${r.partial ? "partial" : "complete"} g=${Math.min(r.goroutines.length, 2)}`;
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------

const hpackTarget: Target = {
  name: "hpack",
  description: "HpackDecoder.decode on damaged header blocks, in sequence on one decoder (src/h2)",
  async setup() {
    const { encodeHeaders, HpackDecoder } = await import("../../src/h2/hpack.js");
    const hex = (h: string) => u8(Buffer.from(h.replace(/\s+/g, ""), "hex"));
    // RFC 7541 Appendix C: requests with and without Huffman coding, responses with eviction.
    const seeds: Seed[] = [
      { name: "C.3.1 request", bytes: hex("828684410f7777772e6578616d706c652e636f6d"), context: 0 },
      { name: "C.4.1 request, Huffman", bytes: hex("828684418cf1e3c2e5f23a6ba0ab90f4ff"), context: 0 },
      {
        name: "C.4.3 request, Huffman, dynamic references",
        bytes: hex("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"),
        context: 0,
      },
      {
        name: "C.6.1 response, Huffman",
        bytes: hex(
          "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
        ),
        context: 1,
      },
      {
        name: "gRPC request (our encoder)",
        bytes: u8(
          encodeHeaders([
            ":method",
            "POST",
            ":scheme",
            "http",
            ":path",
            "/gosymd.v1.SymbolizerService/Symbolize",
            ":authority",
            "127.0.0.1:50051",
            "content-type",
            "application/grpc",
            "te",
            "trailers",
            "grpc-timeout",
            "10S",
            "user-agent",
            "grpc-go/1.64.0",
          ]),
        ),
        context: 0,
      },
    ];
    // One decoder per context, kept across inputs: damage must not leave it able to crash later.
    const decoders = [
      new HpackDecoder({ maxTableSize: 4096, maxHeaderListSize: 64 << 10 }),
      new HpackDecoder({ maxTableSize: 256, maxHeaderListSize: 4 << 10 }),
    ];
    return {
      contexts: ["4096-byte table", "256-byte table, small list limit"],
      seeds,
      maxLen: 64 << 10,
      shapeOf: (b) => ({
        ...emptyShape(),
        regions: [{ name: "block", start: 0, end: b.length, kind: "bytes" }],
      }),
      slowMs: 200,
      batchCases: 64,
      run(input, context) {
        let d = decoders[context]!;
        let fields: string[];
        try {
          fields = d.decode(input);
        } catch (e) {
          // After a failed block the decoder's state is unspecified (the connection is closed);
          // the next input starts on a fresh one.
          decoders[context] = new HpackDecoder(
            context === 0
              ? { maxTableSize: 4096, maxHeaderListSize: 64 << 10 }
              : { maxTableSize: 256, maxHeaderListSize: 4 << 10 },
          );
          throw e;
        }
        d = decoders[context]!;
        if (fields.length % 2 !== 0) throw new PropertyViolation(`odd field list (${fields.length})`);
        for (const f of fields)
          if (typeof f !== "string") throw new PropertyViolation("a field is not a string");
        if (d.tableSize > d.tableCapacity)
          throw new PropertyViolation(`table ${d.tableSize} over ${d.tableCapacity}`);
        return fields.length === 0 ? "empty" : `fields ${Math.min(fields.length / 2, 8)}`;
      },
    };
  },
};

export const TARGETS: readonly Target[] = [
  objectTarget,
  buildinfoTarget,
  pclntabTarget,
  symtabTarget,
  crashTarget,
  pprofTarget,
  coreTarget,
  hpackTarget,
];

/**
 * A target with planted bugs, for testing the harness itself: inputs containing TYPE throw a
 * TypeError, SLOW take 300 ms, GROW keep 64 MiB alive, HANG never return, GOSYMD throw a GosymdError
 * (allowed). Not listed in TARGETS.
 */
export const selfTestTarget: Target = {
  name: "selftest",
  description: "planted bugs (harness test)",
  async setup() {
    const { GosymdError } = await import("../../src/bytes/errors.js");
    const kept: Uint8Array[] = [];
    const seeds = ["all good", "GOSYMD", "xxTYPExx", "SLOW", "GROW", "HANG"].map((s) => ({
      name: s,
      bytes: u8(Buffer.from(s)),
      context: 0,
    }));
    return {
      contexts: ["default"],
      seeds,
      maxLen: 4096,
      shapeOf: () => emptyShape(),
      slowMs: 150,
      run(input) {
        const s = Buffer.from(input).toString("latin1");
        if (s.includes("TYPE")) return (undefined as unknown as { x: string }).x;
        if (s.includes("GOSYMD")) throw new GosymdError("corrupt", "planted");
        if (s.includes("SLOW")) {
          const end = performance.now() + 300;
          while (performance.now() < end);
        }
        if (s.includes("GROW")) kept.push(new Uint8Array(64 << 20).fill(1));
        if (s.includes("HANG")) for (;;);
        return "fine";
      },
    };
  },
};

export function targetByName(name: string): Target {
  if (name === selfTestTarget.name) return selfTestTarget;
  const t = TARGETS.find((x) => x.name === name);
  if (t === undefined)
    throw new Error(`unknown target ${name}; targets: ${TARGETS.map((x) => x.name).join(", ")}`);
  return t;
}
