/**
 * Pass 1 over an uncompressed profile.proto: indexes what symbolization needs — mappings,
 * locations (id, mapping, address, whether they already have lines), functions, and the
 * string table as byte ranges — without decoding samples or copying anything. Field numbers are
 * those of github.com/google/pprof proto/profile.proto.
 */

import { decodeUtf8 } from "../bytes/cursor.js";
import { GosymdError } from "../bytes/errors.js";
import { corruptAt, UNSAFE, WireReader, WT_LEN, WT_VARINT } from "./wire.js";

/** profile.proto field numbers. */
export const F = {
  profile: {
    sampleType: 1,
    sample: 2,
    mapping: 3,
    location: 4,
    function: 5,
    stringTable: 6,
    dropFrames: 7,
    periodType: 11,
    comment: 13,
    /** Last scalar field we know (default_sample_type); 15 is the newer doc_url string index. */
    docUrl: 15,
  },
  mapping: {
    id: 1,
    memoryStart: 2,
    memoryLimit: 3,
    fileOffset: 4,
    filename: 5,
    buildId: 6,
    hasFunctions: 7,
    hasFilenames: 8,
    hasLineNumbers: 9,
    hasInlineFrames: 10,
  },
  location: { id: 1, mappingId: 2, address: 3, line: 4, isFolded: 5 },
  line: { functionId: 1, line: 2, column: 3 },
  function: { id: 1, name: 2, systemName: 3, filename: 4, startLine: 5 },
} as const;

/** Caps on what one profile may contain (each also bounded by the bytes present). */
export interface ProfileLimits {
  maxMappings: number;
  maxLocations: number;
  maxFunctions: number;
  maxStrings: number;
}
export const DEFAULT_PROFILE_LIMITS: ProfileLimits = {
  maxMappings: 1_000_000,
  maxLocations: 50_000_000,
  maxFunctions: 50_000_000,
  maxStrings: 100_000_000,
};

export interface MappingRec {
  /** Index in the order mappings appear. */
  index: number;
  /** UNSAFE when the id does not fit 53 bits. */
  id: number;
  start: number;
  limit: number;
  offset: number;
  filenameIdx: number;
  buildIdIdx: number;
  hasFunctions: boolean;
  hasFilenames: boolean;
  hasLineNumbers: boolean;
  hasInlineFrames: boolean;
}

/** A growable column of numbers (doubles), so millions of locations cost 8 bytes per value. */
export class NumColumn {
  data: Float64Array;
  length = 0;
  constructor(initial = 1024) {
    this.data = new Float64Array(initial);
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  get(i: number): number {
    return this.data[i]!;
  }
}

export interface ProfileIndex {
  buf: Uint8Array;
  mappings: MappingRec[];
  /** Locations in wire order: id, mapping id, address (UNSAFE when not representable), lines. */
  locId: NumColumn;
  locMapping: NumColumn;
  locAddress: NumColumn;
  /** Number of Line entries each location already has. */
  locLines: NumColumn;
  /** Byte span of each location's top-level field: key offset and payload end. */
  locField: NumColumn;
  locEnd: NumColumn;
  /**
   * When a location's fields other than its lines are one contiguous run, that run's
   * [start, end) (empty when there are none); else -1 in locKeptStart.
   */
  locKeptStart: NumColumn;
  locKeptEnd: NumColumn;
  /** Byte span of each mapping's top-level field. */
  mapField: number[];
  mapEnd: number[];
  /** Functions in wire order (string indices; UNSAFE when unusable). */
  funcId: NumColumn;
  funcName: NumColumn;
  funcSystemName: NumColumn;
  funcFilename: NumColumn;
  funcStartLine: NumColumn;
  /** Largest safe function id present (0 when none). */
  maxFunctionId: number;
  /** String table: payload start and length of each entry. */
  strStart: NumColumn;
  strLen: NumColumn;
}

function checkCount(n: number, max: number, what: string, offset: number): void {
  if (n >= max) {
    throw new GosymdError("limit_exceeded", `profile has more than ${max} ${what}`, {
      format: "pprof",
      field: what,
      offset,
    });
  }
}

/** Indexes an uncompressed profile. Throws a GosymdError (truncated/corrupt/limit_exceeded). */
export function indexProfile(buf: Uint8Array, limits: ProfileLimits = DEFAULT_PROFILE_LIMITS): ProfileIndex {
  const idx: ProfileIndex = {
    buf,
    mappings: [],
    locId: new NumColumn(),
    locMapping: new NumColumn(),
    locAddress: new NumColumn(),
    locLines: new NumColumn(),
    locField: new NumColumn(),
    locEnd: new NumColumn(),
    locKeptStart: new NumColumn(),
    locKeptEnd: new NumColumn(),
    mapField: [],
    mapEnd: [],
    funcId: new NumColumn(),
    funcName: new NumColumn(),
    funcSystemName: new NumColumn(),
    funcFilename: new NumColumn(),
    funcStartLine: new NumColumn(),
    maxFunctionId: 0,
    strStart: new NumColumn(),
    strLen: new NumColumn(),
  };
  const r = new WireReader(buf, 0, buf.length, "profile");
  const sub = new WireReader(buf, 0, 0, "");
  while (r.pos < r.end) {
    const at = r.pos;
    const t = r.tag();
    const field = t >>> 3;
    const wt = t & 7;
    switch (field) {
      case F.profile.mapping: {
        r.expect(wt, WT_LEN, "mapping", at);
        checkCount(idx.mappings.length, limits.maxMappings, "mappings", at);
        const s = r.lenStart("mapping");
        idx.mappings.push(decodeMapping(sub, s, r.pos, idx.mappings.length));
        idx.mapField.push(at);
        idx.mapEnd.push(r.pos);
        break;
      }
      case F.profile.location: {
        r.expect(wt, WT_LEN, "location", at);
        checkCount(idx.locId.length, limits.maxLocations, "locations", at);
        const s = r.lenStart("location");
        decodeLocation(sub, s, r.pos, idx);
        idx.locField.push(at);
        idx.locEnd.push(r.pos);
        break;
      }
      case F.profile.function: {
        r.expect(wt, WT_LEN, "function", at);
        checkCount(idx.funcId.length, limits.maxFunctions, "functions", at);
        const s = r.lenStart("function");
        decodeFunction(sub, s, r.pos, idx);
        break;
      }
      case F.profile.stringTable: {
        r.expect(wt, WT_LEN, "string_table", at);
        checkCount(idx.strStart.length, limits.maxStrings, "strings", at);
        const s = r.lenStart("string_table");
        idx.strStart.push(s);
        idx.strLen.push(r.pos - s);
        break;
      }
      case F.profile.sampleType:
      case F.profile.periodType: {
        r.expect(wt, WT_LEN, field === F.profile.sampleType ? "sample_type" : "period_type", at);
        const s = r.lenStart("value type");
        checkScalars(sub, s, r.pos, "value type", 2);
        break;
      }
      case F.profile.sample: {
        r.expect(wt, WT_LEN, "sample", at);
        const s = r.lenStart("sample");
        checkSample(sub, s, r.pos);
        break;
      }
      case F.profile.comment:
        if (wt === WT_LEN) checkPacked(r, r.lenStart("comment"), r.pos, "comment");
        else {
          r.expect(wt, WT_VARINT, "comment", at);
          r.varint("comment");
        }
        break;
      default:
        if (field >= F.profile.dropFrames && field <= F.profile.docUrl) {
          r.expect(wt, WT_VARINT, `field ${field}`, at);
        }
        r.skip(wt, `field ${field}`);
    }
  }
  if (idx.strStart.length === 0 || idx.strLen.get(0) !== 0) {
    throw new GosymdError("corrupt", 'malformed profile: string_table[0] must be ""', {
      format: "pprof",
      field: "string_table",
    });
  }
  return idx;
}

function decodeMapping(r: WireReader, start: number, end: number, index: number): MappingRec {
  r.pos = start;
  r.end = end;
  r.what = "mapping";
  const m: MappingRec = {
    index,
    id: 0,
    start: 0,
    limit: 0,
    offset: 0,
    filenameIdx: 0,
    buildIdIdx: 0,
    hasFunctions: false,
    hasFilenames: false,
    hasLineNumbers: false,
    hasInlineFrames: false,
  };
  while (r.pos < r.end) {
    const at = r.pos;
    const t = r.tag();
    const field = t >>> 3;
    const wt = t & 7;
    if (field >= 1 && field <= 10) {
      r.expect(wt, WT_VARINT, `field ${field}`, at);
      const v = r.varint(`field ${field}`);
      switch (field) {
        case F.mapping.id:
          m.id = v;
          break;
        case F.mapping.memoryStart:
          m.start = v;
          break;
        case F.mapping.memoryLimit:
          m.limit = v;
          break;
        case F.mapping.fileOffset:
          m.offset = v;
          break;
        case F.mapping.filename:
          m.filenameIdx = v;
          break;
        case F.mapping.buildId:
          m.buildIdIdx = v;
          break;
        case F.mapping.hasFunctions:
          m.hasFunctions = v !== 0;
          break;
        case F.mapping.hasFilenames:
          m.hasFilenames = v !== 0;
          break;
        case F.mapping.hasLineNumbers:
          m.hasLineNumbers = v !== 0;
          break;
        case F.mapping.hasInlineFrames:
          m.hasInlineFrames = v !== 0;
          break;
      }
    } else {
      r.skip(wt, `field ${field}`);
    }
  }
  return m;
}

function decodeLocation(r: WireReader, start: number, end: number, idx: ProfileIndex): void {
  r.pos = start;
  r.end = end;
  r.what = "location";
  let id = 0;
  let mapping = 0;
  let address = 0;
  let lines = 0;
  let keptStart = start;
  let keptEnd = start;
  let simple = true;
  while (r.pos < r.end) {
    const at = r.pos;
    const t = r.tag();
    const field = t >>> 3;
    const wt = t & 7;
    switch (field) {
      case F.location.id:
        r.expect(wt, WT_VARINT, "id", at);
        id = r.varint("id");
        break;
      case F.location.mappingId:
        r.expect(wt, WT_VARINT, "mapping_id", at);
        mapping = r.varint("mapping_id");
        break;
      case F.location.address:
        r.expect(wt, WT_VARINT, "address", at);
        address = r.varint("address");
        break;
      case F.location.line: {
        r.expect(wt, WT_LEN, "line", at);
        const s = r.lenStart("line");
        const pos = r.pos;
        checkScalars(r, s, pos, "line", 3);
        r.pos = pos;
        r.end = end;
        r.what = "location";
        lines++;
        continue; // not part of the kept run
      }
      default:
        r.skip(wt, `field ${field}`);
    }
    if (keptEnd === keptStart) {
      keptStart = at;
      keptEnd = r.pos;
    } else if (at === keptEnd) keptEnd = r.pos;
    else simple = false;
  }
  idx.locId.push(id);
  idx.locMapping.push(mapping);
  idx.locAddress.push(address);
  idx.locLines.push(lines);
  idx.locKeptStart.push(simple ? keptStart : -1);
  idx.locKeptEnd.push(simple ? keptEnd : -1);
}

function decodeFunction(r: WireReader, start: number, end: number, idx: ProfileIndex): void {
  r.pos = start;
  r.end = end;
  r.what = "function";
  let id = 0;
  let name = 0;
  let systemName = 0;
  let filename = 0;
  let startLine = 0;
  while (r.pos < r.end) {
    const at = r.pos;
    const t = r.tag();
    const field = t >>> 3;
    const wt = t & 7;
    if (field >= 1 && field <= 5) {
      r.expect(wt, WT_VARINT, `field ${field}`, at);
      const v = r.varint(`field ${field}`);
      if (field === F.function.id) id = v;
      else if (field === F.function.name) name = v;
      else if (field === F.function.systemName) systemName = v;
      else if (field === F.function.filename) filename = v;
      else startLine = v;
    } else {
      r.skip(wt, `field ${field}`);
    }
  }
  idx.funcId.push(id);
  idx.funcName.push(name);
  idx.funcSystemName.push(systemName);
  idx.funcFilename.push(filename);
  idx.funcStartLine.push(startLine);
  if (id !== UNSAFE && id > idx.maxFunctionId) idx.maxFunctionId = id;
}

/** Walks a message whose fields 1..maxField are all varints; others are skipped. */
function checkScalars(r: WireReader, start: number, end: number, what: string, maxField: number): void {
  r.pos = start;
  r.end = end;
  r.what = what;
  while (r.pos < r.end) {
    const at = r.pos;
    const t = r.tag();
    const field = t >>> 3;
    if (field <= maxField) r.expect(t & 7, WT_VARINT, `field ${field}`, at);
    r.skip(t & 7, `field ${field}`);
  }
}

/** Packed varints in [start, end): every one complete and at most 10 bytes. */
function checkPacked(r: WireReader, start: number, end: number, field: string): void {
  const b = r.buf;
  let run = 0;
  for (let i = start; i < end; i++) {
    if (b[i]! >= 0x80) {
      if (++run >= 10) throw corruptAt(r.what, field, i, "varint longer than 10 bytes");
    } else run = 0;
  }
  if (run > 0) throw corruptAt(r.what, field, end, "packed varints end inside a value");
}

/** Sample: location_id (1) and value (2), packed or not; labels (3) with varint fields. */
function checkSample(r: WireReader, start: number, end: number): void {
  r.pos = start;
  r.end = end;
  r.what = "sample";
  while (r.pos < r.end) {
    const at = r.pos;
    const t = r.tag();
    const field = t >>> 3;
    const wt = t & 7;
    if (field === 1 || field === 2) {
      if (wt === WT_LEN) {
        const s = r.lenStart(`field ${field}`);
        checkPacked(r, s, r.pos, `field ${field}`);
      } else {
        r.expect(wt, WT_VARINT, `field ${field}`, at);
        r.varint(`field ${field}`);
      }
    } else if (field === 3) {
      r.expect(wt, WT_LEN, "label", at);
      const s = r.lenStart("label");
      const pos = r.pos;
      checkScalars(r, s, pos, "label", 4);
      r.pos = pos;
      r.end = end;
      r.what = "sample";
    } else {
      r.skip(wt, `field ${field}`);
    }
  }
}

/** String i of the table; throws `corrupt` for an index outside the table. */
export function profileString(idx: ProfileIndex, i: number, field: string): string {
  if (i === UNSAFE || i < 0 || i >= idx.strStart.length) {
    throw corruptAt("profile", field, 0, `string index ${i === UNSAFE ? "(too large)" : i} out of range`);
  }
  const s = idx.strStart.get(i);
  return decodeUtf8(idx.buf, s, s + idx.strLen.get(i));
}
