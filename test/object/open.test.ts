/**
 * Format sniffing (openObject) and the cost of opening: every npm fixture opens as the format its
 * magic says, non-executables get a clear `not_executable`, and opening the 46 MB buf binary reads
 * only its headers.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { readBuildInfo } from "../../src/buildinfo/buildinfo.js";
import { GosymdError } from "../../src/bytes/errors.js";
import { BufferSource, type ByteSource, FileSource } from "../../src/bytes/source.js";
import { goBuildId } from "../../src/object/buildid.js";
import { openObject, sniffFormat } from "../../src/object/open.js";
import { npmFixture, npmFixtureList } from "../support/fixtures.js";
import { npmBinaries } from "./support.js";

/** Wraps a source and counts what is read. */
class CountingSource implements ByteSource {
  bytes = 0;
  reads = 0;
  maxRead = 0;
  constructor(private readonly inner: ByteSource) {}
  get size(): number {
    return this.inner.size;
  }
  read(offset: number, length: number, field?: string): Uint8Array {
    this.bytes += length;
    this.reads++;
    this.maxRead = Math.max(this.maxRead, length);
    return this.inner.read(offset, length, field);
  }
  close(): void {
    this.inner.close();
  }
  reset(): void {
    this.bytes = 0;
    this.reads = 0;
    this.maxRead = 0;
  }
}

function notExecutable(bytes: Uint8Array, message: RegExp): void {
  assert.throws(
    () => openObject(new BufferSource(bytes)),
    (e: unknown) => e instanceof GosymdError && e.kind === "not_executable" && message.test(e.message),
  );
}

describe("openObject sniffing", () => {
  test("every npm fixture opens as the format its package targets", () => {
    // The fixture names say the target OS (the package names of most do too, but not those
    // of packages that ship every OS's binary, like app-builder-bin or @bazel/ibazel):
    // linux and android → ELF, darwin → Mach-O, windows → PE; and the OS too.
    for (const fx of npmFixtureList()) {
      const want = /-(linux|android)-/.test(fx.name)
        ? "elf"
        : /-darwin-/.test(fx.name)
          ? "macho"
          : /-windows-/.test(fx.name)
            ? "pe"
            : "?";
      const f = openObject(new FileSource(npmFixture(fx.name)));
      assert.equal(f.format, want, `${fx.name} (${fx.package})`);
      assert.equal(f.os, /-(linux|android|darwin|windows)-/.exec(fx.name)![1], `${fx.name}: os`);
      f.source.close();
    }
  });

  test("non-executables are not_executable with the magic in the message", () => {
    notExecutable(
      Buffer.from("#!/bin/sh\necho hi\n"),
      /unrecognized magic 0x2321 ?2f62; gosymd reads ELF, Mach-O and PE files/,
    );
    notExecutable(Buffer.from("PK\x03\x04rest of a zip file"), /unrecognized magic 0x504b0304/);
    notExecutable(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]), /0x1f8b0800/);
    notExecutable(new Uint8Array(0), /only 0 bytes/);
    notExecutable(Buffer.from("MZ"), /only 2 bytes/);
    // A DOS executable: MZ without a PE signature at e_lfanew.
    const dos = Buffer.alloc(128);
    dos.write("MZ", 0, "latin1");
    dos.writeUInt32LE(0x40, 0x3c);
    notExecutable(dos, /0x4d5a0000/);
    // Java class file: shares 0xcafebabe with fat Mach-O, but its version word is large.
    notExecutable(Buffer.from([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 0x41]), /0xcafebabe/);
  });

  test("sniffFormat names the container without parsing it", () => {
    const elf = Buffer.alloc(64);
    elf.write("\x7fELF", 0, "latin1");
    assert.equal(sniffFormat(new BufferSource(elf)), "elf");
    const macho = Buffer.from([0xcf, 0xfa, 0xed, 0xfe, 0, 0, 0, 0]);
    assert.equal(sniffFormat(new BufferSource(macho)), "macho");
    const fat = Buffer.from([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2]);
    assert.equal(sniffFormat(new BufferSource(fat)), "macho-fat");
    assert.equal(sniffFormat(new BufferSource(Buffer.from("hello"))), undefined);
  });
});

describe("opening reads only headers", () => {
  const buf = npmBinaries((n) => n.startsWith("buf-"))[0]!;

  test("buf (46 MB): open < 16 KiB read; buildinfo and Go build ID < 256 KiB", () => {
    const src = new CountingSource(new FileSource(buf.path));
    assert.ok(src.size > 40 * 1024 * 1024);
    const f = openObject(src);
    assert.ok(src.bytes < 16 * 1024, `open read ${src.bytes} bytes in ${src.reads} reads`);
    src.reset();
    assert.ok(readBuildInfo(f));
    assert.ok(src.bytes < 256 * 1024, `buildinfo read ${src.bytes} bytes`);
    src.reset();
    assert.ok(goBuildId(f));
    assert.ok(src.bytes < 64 * 1024, `Go build ID read ${src.bytes} bytes`);
    src.reset();
    const pcln = f.section(".gopclntab")!;
    const head = f.readVirtual(pcln.addr, 8)!;
    assert.equal(src.bytes, 8, "readVirtual reads just what was asked");
    assert.deepEqual(Buffer.from(head), readFileSync(buf.path).subarray(pcln.offset, pcln.offset + 8));
    src.close();
  });

  test("every npm fixture opens reading < 64 KiB", () => {
    for (const b of npmBinaries()) {
      const src = new CountingSource(new FileSource(b.path));
      openObject(src);
      assert.ok(src.bytes < 64 * 1024, `${b.name}: open read ${src.bytes} bytes`);
      src.close();
    }
  });
});
