/**
 * A hand-written protobuf encoder for `gosymd.v1.SymbolizeResult`, the hot path of Symbolize.
 * Reflective encoding of one message object per frame costs ~3.5 µs per address; this writes the
 * same bytes (proto3 rules: default values omitted, fields in number order) straight from the
 * engine's Resolution objects (ASCII strings copied char by char). The result goes into the
 * response as a pre-encoded field (protobuf-es writes `$unknown` fields verbatim), so it is used
 * only for binary codecs; JSON clients get the reflective path (convert.ts). A test checks that
 * both paths decode to equal messages.
 */
import { Answers } from "../cache/answers.js";
import type { Frame, Resolution } from "../symtab/types.js";
import { REASONS } from "./convert.js";

const enc = new TextEncoder();

/** UTF-8 length of `s`: a scan for the common all-ASCII case, the encoder otherwise. */
function byteLen(s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    if (s.charCodeAt(i) >= 0x80) return enc.encode(s).length;
  }
  return n;
}

function varintLen(v: number): number {
  // v is a non-negative safe integer.
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  let n = 4;
  v = Math.floor(v / 0x10000000);
  while (v > 0) {
    n++;
    v = Math.floor(v / 128);
  }
  return n;
}

function bigVarintLen(v: bigint): number {
  let n = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    n++;
  }
  return n;
}

/** Room for the varint length of a body up to 2^35 bytes. */
const RESERVE = 5;

const SOURCE_PCLNTAB = 1;
const SOURCE_SYMBOL_TABLE = 2;

function strField(s: string): number {
  if (s === "") return 0;
  const n = byteLen(s);
  return 1 + varintLen(n) + n;
}

function frameSize(f: Frame): number {
  let n = strField(f.function) + strField(f.file);
  if (f.line > 0) n += 1 + varintLen(f.line);
  if (f.startLine > 0) n += 1 + varintLen(f.startLine);
  if (f.inlined) n += 2;
  if (f.entry > 0) n += 1 + varintLen(f.entry);
  n += strField(f.packagePath) + strField(f.modulePath) + strField(f.moduleVersion);
  n += 2; // source is never UNSPECIFIED
  return n;
}

export class ProtoWriter {
  buf: Uint8Array;
  pos = 0;
  constructor(initial = 64 * 1024) {
    this.buf = new Uint8Array(initial);
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const nb = new Uint8Array(size);
    nb.set(this.buf.subarray(0, this.pos));
    this.buf = nb;
  }
  /** Caller ensured room (10 bytes). */
  varint(v: number): void {
    const b = this.buf;
    while (v >= 0x80) {
      b[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    b[this.pos++] = v;
  }
  bigVarint(v: bigint): void {
    const b = this.buf;
    while (v >= 0x80n) {
      b[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    b[this.pos++] = Number(v);
  }
  /** Tag + length + bytes of a string field (omitted when empty). */
  str(tag: number, s: string): void {
    if (s === "") return;
    const n = s.length;
    this.ensure(n * 3 + 12);
    const b = this.buf;
    b[this.pos++] = tag;
    // Optimistic all-ASCII path: one byte per char, length known up front.
    const lenAt = this.pos;
    if (n < 0x80) {
      let p = lenAt + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[p++] = c;
      }
      if (i === n) {
        b[lenAt] = n;
        this.pos = p;
        return;
      }
    }
    const u = enc.encode(s);
    this.varint(u.length);
    this.ensure(u.length);
    this.buf.set(u, this.pos);
    this.pos += u.length;
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
  /**
   * For writers created with `reserve` = 5: everything written after the reserved bytes,
   * preceded by its length as a varint (what a length-delimited unknown field's data holds).
   */
  finishDelimited(): Uint8Array {
    let len = this.pos - RESERVE;
    let n = varintLen(len);
    const start = RESERVE - n;
    let p = start;
    while (n-- > 1) {
      this.buf[p++] = (len & 0x7f) | 0x80;
      len = Math.floor(len / 128);
    }
    this.buf[p] = len;
    return this.buf.subarray(start, this.pos);
  }
  /** Starts a length-delimited body (see finishDelimited). */
  static delimited(initial = 64 * 1024): ProtoWriter {
    const w = new ProtoWriter(Math.max(initial, 16));
    w.pos = RESERVE;
    return w;
  }
  /**
   * This writer emptied for a new length-delimited body (see finishDelimited), reused instead of
   * a new one per body: a fresh buffer per response is memory outside the JS heap, and at a few
   * thousand responses a second its churn alone kept V8 running full collections (measured: one
   * every ~100 ms, pauses of 5-15 ms). Buffers grown past `keep` bytes are let go.
   */
  restartDelimited(keep = 4 << 20): this {
    if (this.buf.length > keep) this.buf = new Uint8Array(64 * 1024);
    this.pos = RESERVE;
    return this;
  }
}

function writeFrame(w: ProtoWriter, f: Frame, size: number): void {
  w.ensure(size + 12);
  w.buf[w.pos++] = 0x12; // Location.frames
  w.varint(size);
  w.str(0x0a, f.function);
  w.str(0x12, f.file);
  w.ensure(40);
  if (f.line > 0) {
    w.buf[w.pos++] = 0x18;
    w.varint(f.line);
  }
  if (f.startLine > 0) {
    w.buf[w.pos++] = 0x20;
    w.varint(f.startLine);
  }
  if (f.inlined) {
    w.buf[w.pos++] = 0x28;
    w.buf[w.pos++] = 1;
  }
  if (f.entry > 0) {
    w.buf[w.pos++] = 0x30;
    w.varint(f.entry);
  }
  w.str(0x3a, f.packagePath);
  w.str(0x42, f.modulePath);
  w.str(0x4a, f.moduleVersion);
  w.ensure(2);
  w.buf[w.pos++] = 0x50;
  w.buf[w.pos++] = f.source === "pclntab" ? SOURCE_PCLNTAB : SOURCE_SYMBOL_TABLE;
}

/** SymbolizeResult.status (field 1) as BatchStatus{code, message}. Always written, even for OK. */
export function writeStatus(w: ProtoWriter, code: number, message: string): void {
  const msgLen = message === "" ? 0 : strField(message);
  const size = (code > 0 ? 1 + varintLen(code) : 0) + msgLen;
  w.ensure(24);
  w.buf[w.pos++] = 0x0a;
  w.varint(size);
  if (code > 0) {
    w.buf[w.pos++] = 0x08;
    w.varint(code);
  }
  w.str(0x12, message);
}

/** SymbolizeResult.build_id (field 3). */
export function writeBuildId(w: ProtoWriter, id: string): void {
  w.str(0x1a, id);
}

const scratch = new ProtoWriter(16 * 1024);

/**
 * Encodes the fields of a `Location` other than `address` (frames, reason, detail) into a shared
 * scratch buffer and returns their length; read them with `scratchBytes()` before the next call.
 * This is what BinaryCache remembers per PC.
 */
export function encodeLocationBody(res: Resolution): number {
  scratch.pos = 0;
  const frames = res.frames;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i]!;
    writeFrame(scratch, f, frameSize(f));
  }
  if (frames.length === 0) {
    scratch.ensure(2);
    scratch.buf[scratch.pos++] = 0x18;
    scratch.buf[scratch.pos++] = REASONS[res.reason ?? "no_symbol"];
    scratch.str(0x22, res.detail ?? "");
  }
  return scratch.pos;
}

export function scratchBytes(): Uint8Array {
  return scratch.buf;
}

/** Whether an encoded body has frames (field 2 comes first when present). */
export const FRAMES_TAG = 0x12;

function writeAddressHeader(w: ProtoWriter, address: number | bigint, bodyLen: number): void {
  let size = bodyLen;
  if (typeof address === "number") {
    if (address > 0) size += 1 + varintLen(address);
  } else if (address > 0n) size += 1 + bigVarintLen(address);
  w.ensure(size + 16);
  w.buf[w.pos++] = 0x12;
  w.varint(size);
  if (typeof address === "number") {
    if (address > 0) {
      w.buf[w.pos++] = 0x08;
      w.varint(address);
    }
  } else if (address > 0n) {
    w.buf[w.pos++] = 0x08;
    w.bigVarint(address);
  }
}

/** Appends one `Location` (field 2 of SymbolizeResult) from an address and `src[0, len)`. */
export function writeLocationRaw(
  w: ProtoWriter,
  address: number | bigint,
  src: Uint8Array,
  len: number,
): void {
  writeAddressHeader(w, address, len);
  w.buf.set(src.subarray(0, len), w.pos);
  w.pos += len;
}

/** Appends one `Location` from an address and a remembered body. */
export function writeLocationRef(
  w: ProtoWriter,
  address: number | bigint,
  answers: Answers,
  ref: number,
): void {
  writeAddressHeader(w, address, Answers.lengthOf(ref));
  w.pos += answers.copyTo(ref, w.buf, w.pos);
}
