/**
 * Seed inputs from real data, prepared once and cached under .cache/fuzz/seeds: crash texts the
 * crash-corpus program printed, a runtime/pprof profile of the pprof-oracle program, and cores of
 * the core fixture programs compacted for speed (see compactCore). Binaries come from the shared
 * fixture helpers (npm fixtures, goBuild).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildArm64Variant, makeQemuCore, QEMU_SKIP } from "../core/arm64-support.js";
import { buildVariant, makeCore, type Variant } from "../core/support.js";
import { buildCorpus, runScenario } from "../crash/support.js";
import { CACHE, goBuild, ROOT } from "../support/fixtures.js";

export const FUZZ_CACHE = join(ROOT, ".cache", "fuzz");
const SEEDS = join(FUZZ_CACHE, "seeds");

function cached(path: string, make: () => Buffer | Uint8Array): Buffer {
  if (existsSync(path)) return readFileSync(path);
  const data = make();
  mkdirSync(join(path, ".."), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
  return Buffer.from(data);
}

// ---------------------------------------------------------------------------------------------
// Crash text

/** Scenarios of test/fixtures/go/crash-corpus that end quickly with distinct shapes of output. */
const QUICK_SCENARIOS = ["nilderef", "concmap", "repanic", "deadlock", "hang", "workerpanic"];
const MORE_SCENARIOS = [
  "index",
  "slice",
  "nilmap",
  "typeassert",
  "divzero",
  "closedchan",
  "unlock",
  "panicerr",
];

export interface TextSeed {
  name: string;
  text: string;
}

/** The checked-in crash-text fixtures plus real runs of the crash corpus (cached). */
export async function crashTexts(quick: boolean): Promise<TextSeed[]> {
  const out: TextSeed[] = [];
  const dir = join(ROOT, "test/fixtures/crash-text");
  for (const f of readdirSync(dir).sort()) {
    if (f.endsWith(".txt")) out.push({ name: f, text: readFileSync(join(dir, f), "utf8") });
  }
  const gos = quick ? ["1.23"] : ["1.19", "1.23"];
  for (const go of gos) {
    const scenarios = quick ? QUICK_SCENARIOS : [...QUICK_SCENARIOS, ...MORE_SCENARIOS];
    let bin: string | undefined;
    for (const s of scenarios) {
      const path = join(SEEDS, "crash", `go${go}-${s}.txt`);
      if (!existsSync(path)) {
        bin ??= await buildCorpus({ go, race: false, shift: false });
        const r = await runScenario(bin, s, s === "hang" ? { quitOnReady: true } : {});
        if (r.timedOut || r.stderr.length === 0) continue;
        cached(path, () => Buffer.from(r.stderr, "utf8"));
      }
      out.push({ name: `go${go} ${s}`, text: readFileSync(path, "utf8") });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// pprof

export interface ProfileSeed {
  /** The runtime's own gzipped CPU profile. */
  gz: Uint8Array;
  binary: string;
}

/** A CPU profile runtime/pprof wrote for test/fixtures/go/pprof-oracle (go1.23, GNU build ID). */
export function oracleProfile(): ProfileSeed {
  const binary = goBuild("pprof-oracle", { go: "1.23", flags: ["-ldflags=-B gobuildid"] });
  const path = join(SEEDS, "pprof", "oracle-go1.23.pb.gz");
  const gz = cached(path, () => {
    const tmp = `${path}.run-${process.pid}`;
    mkdirSync(join(path, ".."), { recursive: true });
    execFileSync(binary, [tmp, "400ms"], { stdio: ["ignore", "ignore", "pipe"] });
    const b = readFileSync(tmp);
    rmSync(tmp);
    return b;
  });
  return { gz, binary };
}

// ---------------------------------------------------------------------------------------------
// Cores

/**
 * A core with every all-zero page left out of the file. Go reserves large heap arenas that the
 * kernel dumps as (sparse) zero pages, so a 40 MB core holds well under 1 MB of data. Each PT_LOAD
 * becomes one segment per run of non-zero pages, plus the original mapping with no file bytes
 * (so the address range stays mapped); everything else (ELF header, notes) is kept as it was.
 * A reader that only reads the goroutines' memory gives the same answers for both files.
 */
export function compactCore(b: Uint8Array): Buffer {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const phoff = Number(dv.getBigUint64(32, true));
  const phnum = dv.getUint16(56, true);
  interface Seg {
    type: number;
    flags: number;
    vaddr: bigint;
    data: Uint8Array;
    memsz: bigint;
    align: bigint;
  }
  const segs: Seg[] = [];
  const PAGE = 4096;
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * 56;
    const type = dv.getUint32(p, true);
    const flags = dv.getUint32(p + 4, true);
    const off = Number(dv.getBigUint64(p + 8, true));
    const vaddr = dv.getBigUint64(p + 16, true);
    const fs = Number(dv.getBigUint64(p + 32, true));
    const memsz = dv.getBigUint64(p + 40, true);
    const align = dv.getBigUint64(p + 48, true);
    if (type !== 1 || fs === 0) {
      segs.push({ type, flags, vaddr, data: b.subarray(off, off + fs), memsz, align });
      continue;
    }
    const pages = Math.ceil(fs / PAGE);
    const nonzero = (q: number): boolean => {
      const end = Math.min(off + fs, off + (q + 1) * PAGE);
      for (let k = off + q * PAGE; k < end; k++) if (b[k] !== 0) return true;
      return false;
    };
    let q = 0;
    while (q < pages) {
      if (!nonzero(q)) {
        q++;
        continue;
      }
      let e = q + 1;
      while (e < pages && nonzero(e)) e++;
      const s = q * PAGE;
      const en = Math.min(fs, e * PAGE);
      segs.push({
        type,
        flags,
        vaddr: vaddr + BigInt(s),
        data: b.subarray(off + s, off + en),
        memsz: BigInt(en - s),
        align,
      });
      q = e;
    }
    segs.push({ type, flags, vaddr, data: new Uint8Array(0), memsz, align });
  }
  const header = Buffer.from(b.subarray(0, 64));
  const ph = Buffer.alloc(segs.length * 56);
  const parts: Uint8Array[] = [header, ph];
  let pos = 64 + ph.length;
  segs.forEach((s, i) => {
    const p = i * 56;
    if (s.type === 1 && s.data.length > 0 && pos % PAGE !== 0) {
      const pad = PAGE - (pos % PAGE);
      parts.push(new Uint8Array(pad));
      pos += pad;
    }
    ph.writeUInt32LE(s.type, p);
    ph.writeUInt32LE(s.flags, p + 4);
    ph.writeBigUInt64LE(BigInt(s.data.length > 0 ? pos : 0), p + 8);
    ph.writeBigUInt64LE(s.vaddr, p + 16);
    ph.writeBigUInt64LE(0n, p + 24);
    ph.writeBigUInt64LE(BigInt(s.data.length), p + 32);
    ph.writeBigUInt64LE(s.memsz, p + 40);
    ph.writeBigUInt64LE(s.align, p + 48);
    parts.push(s.data);
    pos += s.data.length;
  });
  header.writeBigUInt64LE(64n, 32); // e_phoff
  header.writeBigUInt64LE(0n, 40); // e_shoff: no section headers
  header.writeUInt16LE(Math.min(segs.length, 0xffff), 56);
  header.writeUInt16LE(0, 60);
  header.writeUInt16LE(0, 62);
  return Buffer.concat(parts);
}

export interface CoreSeed {
  name: string;
  core: Uint8Array;
  binary: string;
}

const CORES: Array<{ prog: string; go: string; variant: Variant; args: string[]; mode: "crash" | "quit" }> = [
  { prog: "core-crash", go: "1.23", variant: "default", args: [], mode: "crash" },
  { prog: "core-hang", go: "1.23", variant: "sw", args: ["-n", "300"], mode: "quit" },
  { prog: "core-crash", go: "1.19", variant: "default", args: [], mode: "crash" },
  { prog: "core-hang", go: "1.21", variant: "pie-sw", args: ["-n", "300"], mode: "quit" },
];

/**
 * Compacted cores of the core fixture programs (made with `ulimit -c` on first use, cached); with
 * all seeds, linux/arm64 cores too (made under qemu-user, when it is installed).
 */
export async function coreSeeds(quick: boolean): Promise<CoreSeed[]> {
  const out: CoreSeed[] = [];
  const add = (name: string, run: { core: string; binary: string }) => {
    const key = run.core.split("/").at(-2)!;
    const core = cached(join(SEEDS, "core", `${key}.core`), () => compactCore(readFileSync(run.core)));
    out.push({ name, core, binary: run.binary });
  };
  for (const c of quick ? CORES.slice(0, 2) : CORES) {
    add(
      `${c.prog} go${c.go} ${c.variant}`,
      await makeCore(buildVariant(c.prog, c.go, c.variant), c.args, c.mode),
    );
  }
  if (!quick && QEMU_SKIP === false) {
    for (const c of ARM64_CORES) {
      const bin = buildArm64Variant(c.prog, c.go, c.variant);
      add(`${c.prog} go${c.go} ${c.variant} arm64`, await makeQemuCore(bin, c.args, c.mode));
    }
  }
  return out;
}

const ARM64_CORES: typeof CORES = [
  { prog: "core-crash", go: "1.23", variant: "default", args: [], mode: "crash" },
  { prog: "core-hang", go: "1.22", variant: "sw", args: ["-n", "300"], mode: "quit" },
];

export { CACHE };
