/**
 * Panic values from a core: the goroutine's `_panic` chain, each `arg` (an `any`) printed the way
 * the runtime's printpanicval prints it.
 *
 * By the time a fatal panic dumps core, runtime.preprintpanics has already replaced every error and
 * Stringer value in the chain by the string its Error/String method returned, so most values are
 * plain strings. Other kinds follow printpanicval/printanycustomtype: booleans and integers by
 * value, a named string or number type as `T(value)`, anything else as `(T) 0xADDR`.
 */
import { readUvarint, uvarintEnd } from "../bytes/cursor.js";
import type { RuntimeLayout } from "./layout.js";
import type { CoreMemory } from "./memory.js";
import { readStringData } from "./runtime.js";

export interface PanicInfo {
  message: string;
  /** Dynamic type of the value as the runtime names it ("string", "main.MyErr", ...); "" when unknown. */
  type: string;
  recovered: boolean;
  goexit: boolean;
}

const MAX_PANICS = 64;
const MAX_MESSAGE = 64 * 1024;

// reflect.Kind (internal/abi): kindMask 31.
const K_BOOL = 1;
const K_INT = 2;
const K_INT64 = 6;
const K_UINTPTR = 12;
const K_STRING = 24;
const TFLAG_EXTRA_STAR = 1 << 1;

/** The name of a type descriptor (abi.Type.Str resolved against moduledata.types). */
export function typeName(mem: CoreMemory, L: RuntimeLayout, types: number | undefined, t: number): string {
  if (types === undefined || t === 0) return "";
  const off = mem.i32(t + L.type.str);
  const tflag = mem.u8(t + L.type.tflag);
  if (off === undefined || tflag === undefined) return "";
  const p = types + off;
  // abi.Name: flags byte, varint length, bytes.
  const head = mem.read(p, 11);
  if (head === undefined) return "";
  const n = readUvarint(head, 1);
  if (n < 0 || n > 4096) return "";
  const s = readStringData(mem, p + uvarintEnd, n, 4096) ?? "";
  return (tflag & TFLAG_EXTRA_STAR) !== 0 && s.startsWith("*") ? s.slice(1) : s;
}

function intValue(mem: CoreMemory, data: number, kind: number, size: number): string | undefined {
  const b = mem.read(data, size);
  if (b === undefined || size < 1 || size > 8) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const le = mem.littleEndian;
  const signed = kind >= K_INT && kind <= K_INT64;
  switch (size) {
    case 1:
      return String(signed ? dv.getInt8(0) : dv.getUint8(0));
    case 2:
      return String(signed ? dv.getInt16(0, le) : dv.getUint16(0, le));
    case 4:
      return String(signed ? dv.getInt32(0, le) : dv.getUint32(0, le));
    case 8:
      return String(signed ? dv.getBigInt64(0, le) : dv.getBigUint64(0, le));
    default:
      return undefined;
  }
}

/** The text printpanicval writes for an `any` of type t holding data. */
export function formatValue(
  mem: CoreMemory,
  L: RuntimeLayout,
  types: number | undefined,
  t: number,
  data: number,
): { text: string; type: string } {
  if (t === 0) return { text: "nil", type: "" };
  const kindByte = mem.u8(t + L.type.kind);
  const size = mem.u64(t);
  const name = typeName(mem, L, types, t);
  if (kindByte === undefined || size === undefined)
    return { text: `(${name || "?"}) 0x${data.toString(16)}`, type: name };
  const kind = kindByte & 31;
  const builtin = name !== "" && !name.includes(".");
  if (kind === K_STRING) {
    const p = mem.u64(data);
    const n = mem.u64(data + 8);
    const s = p === undefined || n === undefined ? undefined : readStringData(mem, p, n, MAX_MESSAGE);
    if (s === undefined) return { text: `(${name}) 0x${data.toString(16)}`, type: name };
    return { text: builtin ? s : `${name}("${s}")`, type: name };
  }
  if (kind === K_BOOL) {
    const v = mem.u8(data);
    if (v !== undefined) {
      const s = v !== 0 ? "true" : "false";
      return { text: builtin ? s : `${name}(${s})`, type: name };
    }
  }
  if (kind >= K_INT && kind <= K_UINTPTR) {
    const v = intValue(mem, data, kind, size);
    if (v !== undefined) return { text: builtin ? v : `${name}(${v})`, type: name };
  }
  return { text: `(${name || "?"}) 0x${data.toString(16)}`, type: name };
}

/** The `_panic` chain from g._panic (newest first in memory), returned outermost (oldest) first. */
export function decodePanics(
  mem: CoreMemory,
  L: RuntimeLayout,
  first: number,
  types: number | undefined,
  warnings: string[],
): PanicInfo[] {
  const out: PanicInfo[] = [];
  const seen = new Set<number>();
  let p = first;
  while (p !== 0 && out.length < MAX_PANICS) {
    if (seen.has(p)) {
      warnings.push("the goroutine's panic chain loops");
      break;
    }
    seen.add(p);
    const t = mem.u64(p + L.panic.arg);
    const data = mem.u64(p + L.panic.arg + 8);
    const link = mem.u64(p + L.panic.link);
    const rec = mem.u8(p + L.panic.recovered);
    const gx = mem.u8(p + L.panic.goexit);
    if (
      t === undefined ||
      data === undefined ||
      link === undefined ||
      rec === undefined ||
      gx === undefined
    ) {
      warnings.push(`panic record at 0x${p.toString(16)} is unreadable`);
      break;
    }
    const v = formatValue(mem, L, types, t, data);
    out.push({ message: v.text, type: v.type, recovered: rec !== 0, goexit: gx !== 0 });
    p = link;
  }
  return out.reverse();
}
