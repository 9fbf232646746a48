/**
 * A stand-in for the engine in cache/store/RPC tests: a tiny text format ("GOSYMD-FAKE\n" + JSON)
 * that decodes into a GoBinary with known functions, build IDs and memory size. Real-binary tests
 * use the engine and npm fixtures; these exercise the service machinery with exact control
 * (memory sizes for eviction, decode counting for coalescing).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { GosymdError } from "../../src/bytes/errors.js";
import type { Decoder } from "../../src/cache/binary-cache.js";
import type { BinaryInfo, GoBinary } from "../../src/symtab/api.js";
import type { Frame, Resolution } from "../../src/symtab/types.js";

export const FAKE_MAGIC = "GOSYMD-FAKE\n";

export interface FakeFunc {
  name: string;
  entry: number;
  end: number;
  file: string;
  line: number;
  /** Inlined callee covering the whole function (to check frame order). */
  inl?: { name: string; file: string; line: number };
}

export interface FakeSpec {
  gnu?: string;
  go?: string;
  funcs: FakeFunc[];
  mem: number;
  /** Makes each copy unique (different sha256). */
  salt?: string;
}

export function fakeBytes(spec: FakeSpec): Buffer {
  return Buffer.from(FAKE_MAGIC + JSON.stringify(spec));
}

export function sha256Hex(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

export function decodeFake(bytes: Uint8Array): GoBinary {
  const text = Buffer.from(bytes).toString("utf8");
  if (!text.startsWith(FAKE_MAGIC)) {
    throw new GosymdError("not_executable", "not an executable: unrecognized magic", { offset: 0 });
  }
  let spec: FakeSpec;
  try {
    spec = JSON.parse(text.slice(FAKE_MAGIC.length)) as FakeSpec;
  } catch {
    throw new GosymdError("truncated", "data ends inside fake header", {
      format: "fake",
      offset: bytes.length,
    });
  }
  const info: BinaryInfo = {
    format: "elf",
    arch: "amd64",
    os: "linux",
    ptrSize: 8,
    pie: false,
    size: bytes.length,
    buildIds: {
      sha256: sha256Hex(bytes),
      ...(spec.gnu ? { gnu: spec.gnu } : {}),
      ...(spec.go ? { go: spec.go } : {}),
    },
    goVersion: "go1.22.0",
    symbolCount: spec.funcs.length,
  };
  const frame = (f: FakeFunc): Frame => ({
    function: f.name,
    file: f.file,
    line: f.line,
    startLine: f.line - 1,
    entry: f.entry,
    inlined: false,
    packagePath: "main",
    modulePath: "example.com/fake",
    moduleVersion: "v1.0.0",
    source: "pclntab",
  });
  return {
    info,
    memoryBytes: spec.mem,
    close() {},
    resolve(pc: number): Resolution {
      const f = spec.funcs.find((x) => pc >= x.entry && pc < x.end);
      if (!f) return { frames: [], reason: "outside_binary", detail: `no function at 0x${pc.toString(16)}` };
      const outer = frame(f);
      if (!f.inl) return { frames: [outer] };
      return {
        frames: [
          { ...outer, function: f.inl.name, file: f.inl.file, line: f.inl.line, inlined: true },
          outer,
        ],
      };
    },
  };
}

/** A decoder over the fake format that counts decodes. */
export function countingDecoder(): { decoder: Decoder; count: () => number } {
  let n = 0;
  return {
    count: () => n,
    decoder: (input) => {
      n++;
      const bytes = "path" in input ? readFileSync(input.path) : input.bytes;
      return { bin: decodeFake(bytes), segments: [] };
    },
  };
}

/** A verifier (path → GoBinary) for LocalStore.ingest over the fake format. */
export function fakeVerifier(path: string): GoBinary {
  return decodeFake(readFileSync(path));
}
