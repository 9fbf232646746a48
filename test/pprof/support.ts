/**
 * Test helpers for pprof: an independent profile.proto codec (protobufjs, parsing the schema
 * below at run time — not our wire code), a builder for synthetic profiles, and a fake GoBinary
 * whose answers are a pure function of the PC.
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import protobuf from "protobufjs";
import type { BinaryInfo, GoBinary } from "../../src/symtab/api.js";
import type { Frame, Resolution } from "../../src/symtab/types.js";

// The message layout of github.com/google/pprof proto/profile.proto (field numbers and types).
const SCHEMA = `
syntax = "proto3";
package perftools.profiles;
message Profile {
  repeated ValueType sample_type = 1;
  repeated Sample sample = 2;
  repeated Mapping mapping = 3;
  repeated Location location = 4;
  repeated Function function = 5;
  repeated string string_table = 6;
  int64 drop_frames = 7;
  int64 keep_frames = 8;
  int64 time_nanos = 9;
  int64 duration_nanos = 10;
  ValueType period_type = 11;
  int64 period = 12;
  repeated int64 comment = 13;
  int64 default_sample_type = 14;
}
message ValueType { int64 type = 1; int64 unit = 2; }
message Sample { repeated uint64 location_id = 1; repeated int64 value = 2; repeated Label label = 3; }
message Label { int64 key = 1; int64 str = 2; int64 num = 3; int64 num_unit = 4; }
message Mapping {
  uint64 id = 1; uint64 memory_start = 2; uint64 memory_limit = 3; uint64 file_offset = 4;
  int64 filename = 5; int64 build_id = 6;
  bool has_functions = 7; bool has_filenames = 8; bool has_line_numbers = 9; bool has_inline_frames = 10;
}
message Location { uint64 id = 1; uint64 mapping_id = 2; uint64 address = 3; repeated Line line = 4; bool is_folded = 5; }
message Line { uint64 function_id = 1; int64 line = 2; int64 column = 3; }
message Function { uint64 id = 1; int64 name = 2; int64 system_name = 3; int64 filename = 4; int64 start_line = 5; }
`;

const root = protobuf.parse(SCHEMA, { keepCase: true }).root;
const ProfileType = root.lookupType("perftools.profiles.Profile");

/** Decoded profile with 64-bit values as decimal strings (exact). */
export interface PValueType {
  type: string;
  unit: string;
}
export interface PLine {
  function_id: string;
  line: string;
  column: string;
}
export interface PLocation {
  id: string;
  mapping_id: string;
  address: string;
  line: PLine[];
  is_folded: boolean;
}
export interface PFunction {
  id: string;
  name: string;
  system_name: string;
  filename: string;
  start_line: string;
}
export interface PMapping {
  id: string;
  memory_start: string;
  memory_limit: string;
  file_offset: string;
  filename: string;
  build_id: string;
  has_functions: boolean;
  has_filenames: boolean;
  has_line_numbers: boolean;
  has_inline_frames: boolean;
}
export interface PSample {
  location_id: string[];
  value: string[];
  label: { key: string; str: string; num: string; num_unit: string }[];
}
export interface PProfile {
  sample_type: PValueType[];
  sample: PSample[];
  mapping: PMapping[];
  location: PLocation[];
  function: PFunction[];
  string_table: string[];
  time_nanos: string;
  duration_nanos: string;
  period_type: PValueType | null;
  period: string;
  comment: string[];
  default_sample_type: string;
  drop_frames: string;
  keep_frames: string;
}

export function decodeProfile(bytes: Uint8Array): PProfile {
  const msg = ProfileType.decode(bytes);
  return ProfileType.toObject(msg, { longs: String, defaults: true, arrays: true }) as unknown as PProfile;
}

/** Encodes a (partial) profile object; 64-bit values may be numbers, strings or bigints-as-strings. */
export function encodeProfile(p: Record<string, unknown>): Uint8Array {
  return ProfileType.encode(ProfileType.fromObject(p)).finish();
}

/** Builds profiles with a string table. */
export class ProfileBuilder {
  strings: string[] = [""];
  private index = new Map<string, number>([["", 0]]);
  mappings: Record<string, unknown>[] = [];
  locations: Record<string, unknown>[] = [];
  functions: Record<string, unknown>[] = [];
  samples: Record<string, unknown>[] = [];
  extra: Record<string, unknown> = {};

  str(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.index.set(s, i);
    }
    return i;
  }

  mapping(m: {
    id: number;
    start: number | string;
    limit: number | string;
    offset?: number | string;
    file: string;
    buildId: string;
    flags?: boolean;
  }): void {
    this.mappings.push({
      id: m.id,
      memory_start: m.start,
      memory_limit: m.limit,
      file_offset: m.offset ?? 0,
      filename: this.str(m.file),
      build_id: this.str(m.buildId),
      has_functions: m.flags ?? false,
    });
  }

  func(id: number, name: string, file: string, startLine = 0): void {
    this.functions.push({
      id,
      name: this.str(name),
      system_name: this.str(name),
      filename: this.str(file),
      start_line: startLine,
    });
  }

  location(id: number, mappingId: number, address: number | string, lines: [number, number][] = []): void {
    this.locations.push({
      id,
      mapping_id: mappingId,
      address,
      line: lines.map(([f, l]) => ({ function_id: f, line: l })),
    });
  }

  sample(locs: number[], values: number[], label?: [string, string]): void {
    this.samples.push({
      location_id: locs,
      value: values,
      label: label ? [{ key: this.str(label[0]), str: this.str(label[1]) }] : [],
    });
  }

  build(): Uint8Array {
    const base = {
      sample_type: [
        { type: this.str("samples"), unit: this.str("count") },
        { type: this.str("cpu"), unit: this.str("nanoseconds") },
      ],
      period_type: { type: this.str("cpu"), unit: this.str("nanoseconds") },
      period: 10_000_000,
      time_nanos: "1700000000000000000",
      duration_nanos: 1_000_000_000,
      comment: [this.str("a comment")],
      ...this.extra,
    };
    return encodeProfile({
      ...base,
      sample: this.samples,
      mapping: this.mappings,
      location: this.locations,
      function: this.functions,
      string_table: this.strings,
    });
  }
}

/** A function of the fake binary: [entry, end) with an optional inline chain at [inlStart, inlEnd). */
export interface FakeFunc {
  name: string;
  file: string;
  entry: number;
  end: number;
  startLine: number;
  /** Frames inlined into this function for PCs in [inlStart, inlEnd), innermost first. */
  inlined?: {
    start: number;
    end: number;
    chain: { name: string; file: string; startLine: number; wrapper?: boolean }[];
  };
  /** A compiler-generated wrapper (Frame.wrapper). */
  wrapper?: boolean;
}

/** Line of a PC inside a fake function: deterministic, so tests can recompute it. */
export function fakeLine(f: FakeFunc, pc: number): number {
  return f.startLine + ((pc - f.entry) >> 4);
}

export class FakeBinary implements GoBinary {
  readonly info: BinaryInfo;
  readonly memoryBytes = 0;
  /** Every PC asked for, in order. */
  readonly asked: number[] = [];

  constructor(
    readonly funcs: FakeFunc[],
    info: Partial<BinaryInfo> = {},
  ) {
    this.info = {
      format: "elf",
      arch: "amd64",
      os: "linux",
      ptrSize: 8,
      pie: false,
      size: 0,
      buildIds: { sha256: "00".repeat(32) },
      goVersion: "go1.23",
      symbolCount: 0,
      pclntab: {
        version: "1.20",
        magic: 0xfffffff1,
        quantum: 1,
        ptrSize: 8,
        funcCount: funcs.length,
        fileCount: 0,
        textStart: 0x401000,
        foundBy: "test",
        addr: 0,
        size: 0,
        inlineTrees: true,
      },
      segments: [
        {
          vaddr: 0x400000,
          memSize: 0x100000,
          offset: 0,
          fileSize: 0x100000,
          read: true,
          write: false,
          exec: true,
        },
        {
          vaddr: 0x500000,
          memSize: 0x80000,
          offset: 0x100000,
          fileSize: 0x80000,
          read: true,
          write: false,
          exec: false,
        },
      ],
      ...info,
    };
  }

  resolve(pc: number): Resolution {
    this.asked.push(pc);
    const f = this.funcs.find((x) => pc >= x.entry && pc < x.end);
    if (!f) return { frames: [], reason: "no_symbol" };
    return { frames: expectedFrames(f, pc) };
  }
  close(): void {}
}

/** The frames FakeBinary answers for pc in f, innermost first. */
export function expectedFrames(f: FakeFunc, pc: number): Frame[] {
  const line = fakeLine(f, pc);
  const frame = (
    name: string,
    file: string,
    startLine: number,
    ln: number,
    inlined: boolean,
    wrapper: boolean | undefined,
  ): Frame => ({
    function: name,
    file,
    line: ln,
    startLine,
    entry: f.entry,
    inlined,
    packagePath: "",
    modulePath: "",
    moduleVersion: "",
    source: "pclntab",
    ...(wrapper === undefined ? {} : { wrapper }),
  });
  const frames: Frame[] = [];
  if (f.inlined && pc >= f.inlined.start && pc < f.inlined.end) {
    f.inlined.chain.forEach((c, i) => {
      frames.push(frame(c.name, c.file, c.startLine, c.startLine + 1 + i, true, c.wrapper));
    });
  }
  frames.push(frame(f.name, f.file, f.startLine, line, false, f.wrapper));
  return frames;
}

/** Location id → "function|system name|file|start line|line" per Line, innermost first. */
export function lineStrings(p: PProfile): Map<string, string[]> {
  const s = (i: string) => p.string_table[Number(i)]!;
  const fns = new Map(p.function.map((f) => [f.id, f]));
  return new Map(
    p.location.map((l) => [
      l.id,
      l.line.map((ln) => {
        const f = fns.get(ln.function_id)!;
        assert.ok(f, `location ${l.id}: no function ${ln.function_id}`);
        return `${s(f.name)}|${s(f.system_name)}|${s(f.filename)}|${f.start_line}|${ln.line}`;
      }),
    ]),
  );
}

/** The profile with every Function and Line removed and the mapping flags cleared. */
export function stripProfile(p: PProfile): Uint8Array {
  return gzipSync(
    encodeProfile({
      ...p,
      function: [],
      location: p.location.map((l) => ({ ...l, line: [] })),
      mapping: p.mapping.map((m) => ({
        ...m,
        has_functions: false,
        has_filenames: false,
        has_line_numbers: false,
        has_inline_frames: false,
      })),
    } as unknown as Record<string, unknown>),
  );
}
