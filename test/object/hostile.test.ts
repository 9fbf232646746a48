/**
 * Hostile input: every fixture truncated at each header/table boundary the readers parse and at
 * random lengths, and mutated in its headers. openObject + symbols + notes + build IDs + buildinfo
 * must either succeed or throw a GosymdError (never another exception), each case in < 1 s. Plus
 * hand-made headers with huge counts, and ELF extended numbering built from a real binary.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { readBuildInfo } from "../../src/buildinfo/buildinfo.js";
import { GosymdError } from "../../src/bytes/errors.js";
import { BufferSource } from "../../src/bytes/source.js";
import { computeBuildIds, gnuBuildId, goBuildId } from "../../src/object/buildid.js";
import { openObject } from "../../src/object/open.js";
import type { ObjectFile } from "../../src/object/types.js";
import { fatBytes, helloBuild, npmBinaries } from "./support.js";

const CASE_BUDGET_MS = 1000;

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function onlyGosymd(label: string, fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof GosymdError)) {
      throw new Error(`${label}: threw ${(e as Error)?.name}: ${(e as Error)?.message}`, { cause: e });
    }
  }
}

/** Runs everything a caller does with a binary; returns the elapsed milliseconds. */
function exercise(bytes: Uint8Array, label: string, withSha = false): number {
  const t0 = performance.now();
  let obj: ObjectFile | undefined;
  onlyGosymd(`${label} open`, () => {
    obj = openObject(new BufferSource(bytes));
  });
  if (obj !== undefined) {
    const o = obj;
    onlyGosymd(`${label} symbols`, () => o.symbols());
    onlyGosymd(`${label} notes`, () => o.notes());
    onlyGosymd(`${label} gnu`, () => gnuBuildId(o));
    onlyGosymd(`${label} go`, () => goBuildId(o));
    onlyGosymd(`${label} buildinfo`, () => readBuildInfo(o));
    if (withSha) onlyGosymd(`${label} computeBuildIds`, () => computeBuildIds(o));
    onlyGosymd(`${label} sections`, () => {
      o.sectionAt(o.entry);
      for (const s of o.sections.slice(0, 64)) {
        o.sectionAt(s.addr);
        o.readVirtual(s.addr, 16);
        if (s.fileSize < 1 << 20) o.sectionBytes(s);
      }
    });
  }
  const ms = performance.now() - t0;
  assert.ok(ms < CASE_BUDGET_MS, `${label}: took ${ms.toFixed(0)} ms`);
  return ms;
}

/** Offsets where a reader switches from one structure to the next, from the file's own headers. */
function boundaries(buf: Buffer): number[] {
  const out = new Set<number>();
  const add = (...xs: number[]) => {
    for (const x of xs) if (Number.isSafeInteger(x) && x >= 0 && x <= buf.length) out.add(x);
  };
  for (let i = 0; i <= Math.min(buf.length, 256); i += 4) add(i);
  const obj = openObject(new BufferSource(buf));
  for (const s of obj.sections)
    add(
      s.offset,
      s.offset + 1,
      s.offset + 16,
      s.offset + 32,
      s.offset + s.fileSize - 1,
      s.offset + s.fileSize,
    );
  for (const s of obj.segments) add(s.offset, s.offset + s.fileSize - 1, s.offset + s.fileSize);
  const magic = (m: string) => buf.indexOf(Buffer.from(m, "latin1"));
  const bi = magic("\xff Go buildinf:");
  if (bi >= 0) add(bi, bi + 14, bi + 16, bi + 24, bi + 32, bi + 33, bi + 40, bi + 64, bi + 200);
  const id = magic('\xff Go build ID: "');
  if (id >= 0) add(id, id + 10, id + 17, id + 40, id + 100);
  if (obj.format === "elf") {
    const is64 = buf[4] === 2;
    const le = buf[5] === 1;
    const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
    const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
    const phoff = is64 ? Number(le ? buf.readBigUInt64LE(32) : buf.readBigUInt64BE(32)) : u32(28);
    const shoff = is64 ? Number(le ? buf.readBigUInt64LE(40) : buf.readBigUInt64BE(40)) : u32(32);
    const o = is64 ? 48 : 36;
    const [phent, phnum, shent, shnum] = [u16(o + 6), u16(o + 8), u16(o + 10), u16(o + 12)];
    for (let i = 0; i <= phnum; i++) add(phoff + i * phent, phoff + i * phent + 4);
    for (let i = 0; i <= shnum; i++) add(shoff + i * shent, shoff + i * shent + 8);
  } else if (obj.format === "macho") {
    let base = 0;
    if (buf.readUInt32BE(0) === 0xcafebabe) {
      const n = buf.readUInt32BE(4);
      for (let i = 0; i <= n; i++) add(8 + 20 * i, 8 + 20 * i + 8);
      base = buf.readUInt32BE(16); // first slice
      add(base);
    }
    const is64 = buf.readUInt32LE(base) === 0xfeedfacf;
    const ncmds = buf.readUInt32LE(base + 16);
    let off = base + (is64 ? 32 : 28);
    for (let i = 0; i < ncmds && off + 8 <= buf.length; i++) {
      add(off, off + 4, off + 8, off + 24, off + 72);
      off += buf.readUInt32LE(off + 4);
    }
    add(off);
  } else {
    const lfanew = buf.readUInt32LE(0x3c);
    add(0x3c, 0x40, lfanew, lfanew + 4, lfanew + 24, lfanew + 24 + 16, lfanew + 24 + 72);
    const nsect = buf.readUInt16LE(lfanew + 6);
    const optSize = buf.readUInt16LE(lfanew + 20);
    const sh = lfanew + 24 + optSize;
    for (let i = 0; i <= nsect; i++) add(sh + 40 * i, sh + 40 * i + 20);
    const symoff = buf.readUInt32LE(lfanew + 12);
    const nsyms = buf.readUInt32LE(lfanew + 16);
    if (symoff !== 0)
      add(symoff, symoff + 18, symoff + nsyms * 18, symoff + nsyms * 18 + 4, symoff + nsyms * 18 + 5);
  }
  obj.source.close();
  return [...out].sort((a, b) => a - b);
}

interface Sample {
  name: string;
  bytes: () => Buffer;
}

const SAMPLES: Sample[] = [
  ...npmBinaries().map((b) => ({ name: `npm ${b.name}`, bytes: () => readFileSync(b.path) })),
  ...[
    "go1.23",
    "pie",
    "linux-ppc64",
    "linux-386",
    "darwin-amd64-uuid",
    "windows-amd64",
    "windows-386-stripped",
  ].map((n) => ({ name: `hello ${n}`, bytes: () => readFileSync(helloBuild(n)) })),
  {
    name: "fat darwin",
    bytes: () => fatBytes([helloBuild("darwin-arm64"), helloBuild("darwin-amd64-uuid")]),
  },
];

describe("truncation at every parsed boundary and at random lengths", () => {
  SAMPLES.forEach((s, si) => {
    test(s.name, () => {
      const buf = s.bytes();
      const cuts = boundaries(buf);
      const r = rng(0x5eed + si);
      for (let i = 0; i < 24; i++) cuts.push(Math.floor(r() * buf.length));
      let worst = 0;
      cuts.forEach((n, k) => {
        worst = Math.max(worst, exercise(buf.subarray(0, n), `${s.name} cut at ${n}`, k % 25 === 0));
      });
      assert.ok(cuts.length > 40, `${cuts.length} cuts`);
    });
  });
});

describe("mutated headers", () => {
  SAMPLES.forEach((s, si) => {
    test(s.name, () => {
      const orig = s.bytes();
      const buf = Buffer.from(orig); // one private copy, mutated and restored in place
      const r = rng(0xbad + si);
      const region = Math.min(buf.length, 4096);
      const specials = [0, 1, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, buf.length, buf.length + 1];
      for (let i = 0; i < 120; i++) {
        const pos = Math.floor(r() * region) & ~3;
        const saved = Buffer.from(buf.subarray(pos, pos + 8));
        const kind = i % 3;
        if (kind === 0) buf[pos + Math.floor(r() * 4)] = Math.floor(r() * 256);
        else if (kind === 1 && pos + 4 <= buf.length)
          buf.writeUInt32LE(specials[Math.floor(r() * specials.length)]! >>> 0, pos);
        else if (pos + 2 <= buf.length) buf.writeUInt16BE(r() < 0.5 ? 0xffff : 0, pos);
        exercise(buf, `${s.name} mutation ${i} at ${pos}`);
        saved.copy(buf, pos);
      }
      assert.ok(buf.equals(orig), "restored");
    });
  });
});

describe("hand-made hostile headers", () => {
  const elf = readFileSync(helloBuild("go1.23"));
  const shoff = Number(elf.readBigUInt64LE(40));
  const shnum = elf.readUInt16LE(60);
  const shstrndx = elf.readUInt16LE(62);
  const phnum = elf.readUInt16LE(56);

  test("ELF extended numbering (e_shnum=0, e_shstrndx=SHN_XINDEX, e_phnum=PN_XNUM) reads the same tables", () => {
    const want = openObject(new BufferSource(elf));
    const b = Buffer.from(elf);
    b.writeUInt16LE(0, 60); // e_shnum
    b.writeUInt16LE(0xffff, 62); // e_shstrndx = SHN_XINDEX
    b.writeUInt16LE(0xffff, 56); // e_phnum = PN_XNUM
    b.writeBigUInt64LE(BigInt(shnum), shoff + 32); // section 0 sh_size
    b.writeUInt32LE(shstrndx, shoff + 40); // section 0 sh_link
    b.writeUInt32LE(phnum, shoff + 44); // section 0 sh_info
    const got = openObject(new BufferSource(b));
    // Section 0 now carries the counts (its sh_size is the section count); the rest are unchanged.
    assert.equal(got.sections[0]!.size, shnum);
    assert.deepEqual(
      got.sections.slice(1).map((s) => [s.name, s.addr, s.size]),
      want.sections.slice(1).map((s) => [s.name, s.addr, s.size]),
    );
    assert.deepEqual(got.segments, want.segments);
    assert.equal(got.symbols().length, want.symbols().length);
  });

  const kindOf = (fn: () => unknown): string => {
    try {
      fn();
      return "ok";
    } catch (e) {
      assert.ok(e instanceof GosymdError, `not a GosymdError: ${e}`);
      return e.kind;
    }
  };

  test("huge counts are refused before allocating", () => {
    // ELF: extended e_shnum of 2^32-1.
    const e1 = Buffer.from(elf);
    e1.writeUInt16LE(0, 60);
    e1.writeBigUInt64LE(0xffffffffn, shoff + 32);
    assert.equal(
      kindOf(() => openObject(new BufferSource(e1))),
      "limit_exceeded",
    );
    // ELF: PN_XNUM with sh_info 2^31.
    const e2 = Buffer.from(elf);
    e2.writeUInt16LE(0xffff, 56);
    e2.writeUInt32LE(0x80000000, shoff + 44);
    assert.equal(
      kindOf(() => openObject(new BufferSource(e2))),
      "limit_exceeded",
    );
    // ELF: a symbol table claiming 2^40 bytes.
    const e3 = Buffer.from(elf);
    const o = openObject(new BufferSource(elf));
    const symtab = o.sections.find((s) => s.name === ".symtab")!;
    e3.writeBigUInt64LE(1n << 40n, shoff + symtab.index * 64 + 32);
    const k3 = kindOf(() => openObject(new BufferSource(e3)).symbols());
    assert.ok(k3 === "truncated" || k3 === "limit_exceeded", k3);

    // Mach-O: ncmds 2^32-1; sizeofcmds 2^32-1.
    const mac = readFileSync(helloBuild("darwin-amd64-uuid"));
    const m1 = Buffer.from(mac);
    m1.writeUInt32LE(0xffffffff, 16);
    assert.equal(
      kindOf(() => openObject(new BufferSource(m1))),
      "limit_exceeded",
    );
    const m2 = Buffer.from(mac);
    m2.writeUInt32LE(0xffffffff, 20);
    assert.equal(
      kindOf(() => openObject(new BufferSource(m2))),
      "limit_exceeded",
    );

    // PE: 2^31 COFF symbols.
    const pe = readFileSync(helloBuild("windows-amd64"));
    const p1 = Buffer.from(pe);
    const lfanew = p1.readUInt32LE(0x3c);
    p1.writeUInt32LE(0x80000000, lfanew + 4 + 12);
    const kp = kindOf(() => openObject(new BufferSource(p1)).symbols());
    assert.ok(kp === "truncated" || kp === "limit_exceeded", kp);

    // Fat: 40 arches (plausible count) pointing past the end of the file.
    const fat = Buffer.alloc(8 + 40 * 20);
    fat.writeUInt32BE(0xcafebabe, 0);
    fat.writeUInt32BE(40, 4);
    for (let i = 0; i < 40; i++) {
      fat.writeUInt32BE(0x01000007, 8 + 20 * i);
      fat.writeUInt32BE(0x7fff0000, 16 + 20 * i);
      fat.writeUInt32BE(0x10000, 20 + 20 * i);
    }
    assert.equal(
      kindOf(() => openObject(new BufferSource(fat))),
      "truncated",
    );
  });

  test("a note with a huge namesz ends the note list instead of throwing", () => {
    const b = Buffer.from(readFileSync(helloBuild("gnu-buildid")));
    const o = openObject(new BufferSource(b));
    const before = o.notes().length;
    const notes = o.sections.filter((s) => s.name.startsWith(".note"));
    assert.ok(notes.length >= 2 && before >= 2);
    b.writeUInt32LE(0xfffffff0, notes[0]!.offset); // namesz of the only note of the first section
    const got = openObject(new BufferSource(b)).notes();
    assert.equal(got.length, before - 1);
  });
});
