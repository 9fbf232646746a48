/**
 * ELF reader against readelf (binutils) and Go's debug/elf (objinfo), over the npm ELF fixtures
 * (amd64/arm64/386/arm, Go 1.14–1.27) and hello builds (amd64 exec/PIE, arm64, 386, big-endian
 * ppc64 and mips, stripped variants).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { readBuildInfo } from "../../src/buildinfo/buildinfo.js";
import { BufferSource, FileSource } from "../../src/bytes/source.js";
import { computeBuildIds } from "../../src/object/buildid.js";
import { ElfFile } from "../../src/object/elf.js";
import { openObject } from "../../src/object/open.js";
import type { Arch, ObjectFile, Section } from "../../src/object/types.js";
import { CACHE } from "../support/fixtures.js";
import {
  goObjInfo,
  goToolBuildid,
  helloBuild,
  type NamedBinary,
  npmBinaries,
  oracleGo,
  run,
  strippedCopy,
} from "./support.js";

interface ReadelfSection {
  index: number;
  name: string;
  type: string;
  addr: number;
  offset: number;
  size: number;
  flags: string;
}

function hexNum(s: string): number {
  return Number.parseInt(s, 16);
}

function readelfSections(path: string): ReadelfSection[] {
  const out: ReadelfSection[] = [];
  for (const line of run("readelf", ["-S", "-W", path]).split("\n")) {
    const m = /^\s*\[\s*(\d+)\] (.*)$/.exec(line);
    if (!m) continue;
    const rest = m[2]!;
    const nm = /^(\S*)\s+(.*)$/.exec(rest)!;
    const name = nm[1]!;
    const toks = nm[2]!.trim().split(/\s+/);
    // type addr off size es [flg] lk inf al
    assert.ok(toks.length === 8 || toks.length === 9, `unexpected readelf line: ${line}`);
    out.push({
      index: Number(m[1]),
      name,
      type: toks[0]!,
      addr: hexNum(toks[1]!),
      offset: hexNum(toks[2]!),
      size: hexNum(toks[3]!),
      flags: toks.length === 9 ? toks[5]! : "",
    });
  }
  return out;
}

function readelfLoads(path: string) {
  const out: { offset: number; vaddr: number; fileSize: number; memSize: number; flags: string }[] = [];
  for (const line of run("readelf", ["-l", "-W", path]).split("\n")) {
    const m =
      /^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(.*?)\s+0x([0-9a-f]+)$/.exec(
        line,
      );
    if (m) {
      out.push({
        offset: hexNum(m[1]!),
        vaddr: hexNum(m[2]!),
        fileSize: hexNum(m[4]!),
        memSize: hexNum(m[5]!),
        flags: m[6]!,
      });
    }
  }
  return out;
}

function readelfHeader(path: string): Record<string, string> {
  const h: Record<string, string> = {};
  for (const line of run("readelf", ["-h", path]).split("\n")) {
    const m = /^\s+([^:]+):\s+(.*)$/.exec(line);
    if (m) h[m[1]!.trim()] = m[2]!.trim();
  }
  return h;
}

interface ReadelfSym {
  table: "symtab" | "dynsym";
  name: string;
  addr: number;
  size: number;
  type: string;
  ndx: string;
}

function readelfSymbols(path: string): ReadelfSym[] {
  const out: ReadelfSym[] = [];
  let table: "symtab" | "dynsym" = "symtab";
  for (const line of run("readelf", ["-s", "-W", path]).split("\n")) {
    const t = /^Symbol table '\.(symtab|dynsym)'/.exec(line);
    if (t) {
      table = t[1] as "symtab" | "dynsym";
      continue;
    }
    const m = /^\s*(\d+):\s+([0-9a-f]+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+) ?(.*)$/.exec(line);
    if (!m) continue;
    const size = m[3]!.startsWith("0x") ? hexNum(m[3]!.slice(2)) : Number(m[3]);
    out.push({ table, name: m[8]!, addr: hexNum(m[2]!), size, type: m[4]!, ndx: m[7]! });
  }
  return out;
}

const MACHINE: Record<string, (le: boolean) => Arch> = {
  "Advanced Micro Devices X86-64": () => "amd64",
  AArch64: () => "arm64",
  "Intel 80386": () => "386",
  ARM: () => "arm",
  PowerPC64: (le) => (le ? "ppc64le" : "ppc64"),
  "MIPS R3000": (le) => (le ? "mipsle" : "mips"),
  "IBM S/390": () => "s390x",
  "RISC-V": () => "riscv64",
};

function open(path: string): ObjectFile {
  return openObject(new FileSource(path));
}

function checkAgainstReadelf(b: NamedBinary): void {
  const f = open(b.path);
  assert.equal(f.format, "elf");
  assert.ok(f instanceof ElfFile);

  // Header.
  const h = readelfHeader(b.path);
  const le = h.Data!.includes("little endian");
  assert.equal(f.littleEndian, le, "endianness");
  assert.equal(f.ptrSize, h.Class === "ELF64" ? 8 : 4, "ptrSize");
  const machine = MACHINE[h.Machine!];
  assert.ok(machine, `readelf machine ${h.Machine} not mapped in test`);
  assert.equal(f.arch, machine(le), "arch");
  // Android's dynamic linker as program interpreter (readelf -l) makes it an Android binary.
  const interp = /Requesting program interpreter: ([^\]]+)\]/.exec(run("readelf", ["-l", "-W", b.path]))?.[1];
  assert.equal(
    f.os,
    interp?.startsWith("/system/bin/linker") ? "android" : "linux",
    `os (interpreter ${interp})`,
  );
  assert.equal(f.entry, hexNum(h["Entry point address"]!.replace(/^0x/, "")), "entry");
  const type = h.Type!.split(" ")[0];
  assert.equal(f.type, type === "EXEC" ? "exec" : type === "DYN" ? "dyn" : "other", "type");

  // Sections: same count, names, addresses, offsets, sizes and flags.
  const rs = readelfSections(b.path);
  assert.equal(f.sections.length, rs.length, "section count");
  for (const r of rs) {
    const s: Section = f.sections[r.index]!;
    assert.equal(s.index, r.index);
    assert.equal(s.name, r.name, `section ${r.index} name`);
    assert.equal(s.addr, r.addr, `${r.name} addr`);
    assert.equal(s.offset, r.offset, `${r.name} offset`);
    assert.equal(s.size, r.size, `${r.name} size`);
    assert.equal(s.fileSize, r.type === "NOBITS" || r.type === "NULL" ? 0 : r.size, `${r.name} fileSize`);
    assert.equal(s.alloc, r.flags.includes("A"), `${r.name} alloc`);
    assert.equal(s.write, r.flags.includes("W"), `${r.name} write`);
    assert.equal(s.exec, r.flags.includes("X"), `${r.name} exec`);
    if (r.name !== "") assert.equal(f.section(r.name)?.index, rs.find((x) => x.name === r.name)!.index);
  }

  // PT_LOAD segments.
  const rl = readelfLoads(b.path);
  assert.deepEqual(
    f.segments.map((s) => [s.offset, s.vaddr, s.fileSize, s.memSize, s.read, s.write, s.exec]),
    rl.map((l) => [
      l.offset,
      l.vaddr,
      l.fileSize,
      l.memSize,
      l.flags.includes("R"),
      l.flags.includes("W"),
      l.flags.includes("E"),
    ]),
  );

  // Symbols: every defined, non-section, non-file entry of both tables, same names/addresses/sizes.
  const want = readelfSymbols(b.path)
    .filter((s) => s.ndx !== "UND" && s.type !== "SECTION" && s.type !== "FILE")
    .map((s) => ({
      ...s,
      name: s.table === "dynsym" ? s.name.replace(/@.*$/, "") : s.name,
      kind: s.type === "FUNC" ? "func" : s.type === "OBJECT" ? "object" : "other",
    }));
  const got = f.symbols();
  assert.equal(got.length, want.length, "symbol count");
  const key = (x: {
    table?: string;
    source?: string;
    name: string;
    addr: number;
    size: number;
    kind: string;
  }) => `${x.table ?? x.source}|${x.name}|${x.addr}|${x.size}|${x.kind}`;
  const gotKeys = got.map((s) => key(s)).sort();
  const wantKeys = want.map((s) => key(s)).sort();
  assert.deepEqual(gotKeys, wantKeys);
  for (let i = 1; i < got.length; i++)
    assert.ok(got[i - 1]!.addr <= got[i]!.addr, "symbols sorted by address");

  // sectionAt: the entry point is in the executable section that contains it.
  const text = f.sectionAt(f.entry);
  assert.ok(text?.exec, "entry in an executable section");
  assert.ok(f.entry >= text.addr && f.entry < text.addr + text.size);

  // readVirtual agrees with sectionBytes for every allocated section with bytes.
  for (const s of f.sections) {
    if (!s.alloc || s.fileSize === 0) continue;
    const n = Math.min(64, s.fileSize);
    const v = f.readVirtual(s.addr, n);
    assert.ok(v !== undefined, `readVirtual(${s.name})`);
    assert.deepEqual(Buffer.from(v), Buffer.from(f.sectionBytes(s).subarray(0, n)));
  }
  f.source.close();
}

function checkAgainstGo(b: NamedBinary): void {
  const f = open(b.path);
  const g = goObjInfo(b.path);
  assert.deepEqual(
    f.sections.map((s) => [s.name, s.addr, s.size, s.offset, s.fileSize]),
    (g.sections ?? []).map((s) => [s.name, s.addr, s.size, s.offset, s.fileSize]),
  );
  const gs = (g.symbols ?? []).map((s) => `${s.name}@${s.addr}`).sort();
  const ours = f
    .symbols()
    .map((s) => `${s.name}@${s.addr}`)
    .sort();
  assert.deepEqual(ours, gs);
  f.source.close();
}

const npmElf = () => npmBinaries((n) => n.includes("-linux-"));
const HELLO_ELF = [
  "go1.19",
  "go1.23",
  "pie",
  "gnu-buildid",
  "trimpath-stripped",
  "linux-arm64",
  "linux-386",
  "linux-ppc64",
  "linux-mips",
];

describe("ELF reader vs readelf", () => {
  for (const b of npmElf()) {
    test(`npm ${b.name}`, () => checkAgainstReadelf(b));
  }
  for (const name of HELLO_ELF) {
    test(`hello ${name}`, () => checkAgainstReadelf({ name, path: helloBuild(name) }));
  }
  test("hello go1.23 after objcopy --strip-all", () =>
    checkAgainstReadelf({ name: "strip-all", path: strippedCopy("go1.23") }));
});

describe("ELF reader vs Go debug/elf", () => {
  for (const name of ["go1.23", "linux-ppc64", "linux-mips", "linux-386"]) {
    test(`hello ${name}`, () => checkAgainstGo({ name, path: helloBuild(name) }));
  }
  test("npm esbuild-0.5.26-linux-amd64 (unstripped)", () =>
    checkAgainstGo(npmBinaries((n) => n === "esbuild-0.5.26-linux-amd64")[0]!));
});

describe("ELF specifics", () => {
  test("PIE: Go -buildmode=pie is ET_DYN with pie=true; default build is not", () => {
    const pie = open(helloBuild("pie"));
    assert.equal(pie.type, "dyn");
    assert.equal(pie.pie, true);
    const exe = open(helloBuild("go1.23"));
    assert.equal(exe.type, "exec");
    assert.equal(exe.pie, false);
  });

  test("big-endian 64-bit (ppc64) and 32-bit (mips) headers", () => {
    const p = open(helloBuild("linux-ppc64"));
    assert.deepEqual([p.arch, p.littleEndian, p.ptrSize], ["ppc64", false, 8]);
    const m = open(helloBuild("linux-mips"));
    assert.deepEqual([m.arch, m.littleEndian, m.ptrSize], ["mips", false, 4]);
  });

  test("notes match readelf -n (owner, type count)", () => {
    for (const path of [
      helloBuild("gnu-buildid"),
      helloBuild("linux-mips"),
      npmBinaries((n) => n.startsWith("buf"))[0]!.path,
    ]) {
      const f = open(path);
      const owners = [...run("readelf", ["-n", "-W", path]).matchAll(/^\s+(\S+)\s+0x[0-9a-f]+\s/gm)].map(
        (m) => m[1],
      );
      assert.deepEqual(
        f.notes().map((n) => n.name),
        owners,
      );
    }
  });

  test("Go symbols are findable by name with the right address (vs go tool nm)", () => {
    const path = helloBuild("go1.23");
    const f = open(path);
    const nm = run(oracleGo(), ["tool", "nm", path]);
    for (const name of ["main.main", "runtime.main", "example.com/hello/greet.Hello", "runtime.pclntab"]) {
      const m = new RegExp(`^\\s*([0-9a-f]+) \\S ${name.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`, "m").exec(
        nm,
      );
      const s = f.symbols().find((x) => x.name === name);
      if (m === null) {
        assert.equal(s, undefined, `${name} absent from go tool nm but present here`);
        continue;
      }
      assert.ok(s, `${name} missing`);
      assert.equal(s.addr, hexNum(m[1]!), name);
    }
  });

  test("a C system binary (/bin/ls): PIE with PT_INTERP, dynsym with versions, 8-byte aligned notes", (t) => {
    const path = "/bin/ls";
    checkAgainstReadelf({ name: "ls", path });
    const f = open(path);
    assert.equal(f.type, "dyn");
    assert.equal(f.pie, true);
    const rn = run("readelf", ["-n", "-W", path]);
    const types = [...rn.matchAll(/^\s+(\S+)\s+0x([0-9a-f]+)\s+(NT_\S+)/gm)].map((m) => [
      m[1],
      Number.parseInt(m[2]!, 16),
    ]);
    assert.deepEqual(
      f.notes().map((n) => [n.name, n.desc.length]),
      types,
    );
    const align8 = f.sections.filter((s) => s.name === ".note.gnu.property");
    if (align8.length === 0) t.diagnostic("this /bin/ls has no .note.gnu.property (8-byte aligned note)");
  });

  test("without section headers, notes come from PT_NOTE and buildinfo from the first RW PT_LOAD", () => {
    const path = helloBuild("gnu-buildid");
    const orig = readFileSync(path);
    const b = Buffer.from(orig);
    b.writeBigUInt64LE(0n, 40); // e_shoff
    b.writeUInt16LE(0, 60); // e_shnum
    b.writeUInt16LE(0, 62); // e_shstrndx
    const tmp = `${path}.no-section-headers`;
    writeFileSync(tmp, b);
    const noSh = openObject(new BufferSource(b));
    const full = openObject(new BufferSource(orig));
    assert.equal(noSh.sections.length, 0);
    // readelf -n reads PT_NOTE segments when there are no section headers. Go's linker covers only
    // .note.go.buildid with a PT_NOTE, so the GNU note is not reachable that way.
    const rn = run("readelf", ["-n", "-W", tmp]);
    const want = [...rn.matchAll(/^\s+(\S+)\s+0x([0-9a-f]+)\s/gm)].map((m) => [
      m[1],
      Number.parseInt(m[2]!, 16),
    ]);
    assert.ok(want.length > 0);
    assert.deepEqual(
      noSh.notes().map((n) => [n.name, n.desc.length]),
      want,
    );
    const ids = computeBuildIds(noSh);
    assert.equal(ids.go, goToolBuildid(path));
    assert.equal(ids.gnu, /Build ID: ([0-9a-f]+)/.exec(rn)?.[1]);
    assert.deepEqual(readBuildInfo(noSh), readBuildInfo(full));
  });

  test("an ELF core file (sleep killed with SIGSEGV): type, PT_LOAD segments, PT_NOTE notes vs readelf", (t) => {
    const dir = join(CACHE, "object-core");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    spawnSync("bash", ["-c", "ulimit -c unlimited; sleep 5 & p=$!; sleep 0.3; kill -SEGV $p; wait $p"], {
      cwd: dir,
    });
    const core = readdirSync(dir).find((f) => f.startsWith("core"));
    if (core === undefined) {
      t.skip(
        `no core dump produced (kernel.core_pattern is ${readFileSync("/proc/sys/kernel/core_pattern", "utf8").trim()})`,
      );
      return;
    }
    const path = join(dir, core);
    const f = open(path);
    assert.equal(f.type, "core");
    assert.equal(f.sections.length, 0);
    // Segments above 2^53 (the vsyscall page) are not representable and are skipped.
    const loads = readelfLoads(path).filter((l) => l.vaddr < 2 ** 53);
    assert.deepEqual(
      f.segments.map((s) => [s.offset, s.vaddr, s.fileSize, s.memSize]),
      loads.map((l) => [l.offset, l.vaddr, l.fileSize, l.memSize]),
    );
    const rn = run("readelf", ["-n", "-W", path]);
    const want = [...rn.matchAll(/^\s+(\S+)\s+0x([0-9a-f]+)\s/gm)].map((m) => [
      m[1],
      Number.parseInt(m[2]!, 16),
    ]);
    assert.ok(want.length >= 3);
    assert.deepEqual(
      f.notes().map((n) => [n.name, n.desc.length]),
      want,
    );
    const seg = f.segments.find((s) => s.fileSize > 0)!;
    assert.deepEqual(
      Buffer.from(f.readVirtual(seg.vaddr, 64)!),
      readFileSync(path).subarray(seg.offset, seg.offset + 64),
    );
    rmSync(dir, { recursive: true, force: true });
  });
});
