/**
 * Build identifiers of a binary: GNU build ID, Go build ID, Mach-O LC_UUID and the SHA-256 of the
 * whole file. Any of them names the binary (see `buildIdAliases`).
 *
 * Go build ID: the ELF note `Go`/4 when present; otherwise the `go:buildid` symbol's text
 * `\xff Go build ID: "<Go-quoted id>"\n \xff`, searched at the start of the text section (ELF
 * `.text`, Mach-O `__text`, PE `.text`) and in the first 32 KiB of the image — the places
 * cmd/internal/buildid looks.
 */
import { createRequire } from "node:module";
import { GosymdError } from "../bytes/errors.js";
import { hex, readAt } from "./common.js";
import { goUnquote } from "./gostrconv.js";
import type { BuildIds, ObjectFile } from "./types.js";

/**
 * node:crypto, loaded on first use: a one-shot CLI lookup never hashes the file, and loading the
 * module costs ~2 ms of its start-up.
 */
const require = createRequire(import.meta.url);
let crypto: typeof import("node:crypto") | undefined;

const NT_GNU_BUILD_ID = 3;
const NT_GO_BUILD_ID = 4;
/** How much of the text section / file start is searched for the Go build ID. */
const SEARCH_BYTES = 32 * 1024;
/** Longest Go build ID we accept (real ones are ~83 bytes; the toolchain allows a few hundred). */
const MAX_GO_BUILD_ID = 1024;
/** Chunk size for hashing the file. */
const HASH_CHUNK = 1 << 20;

const PREFIX = Uint8Array.from(Buffer.from('\xff Go build ID: "', "latin1"));
const SUFFIX = Uint8Array.from(Buffer.from('"\n \xff', "latin1"));

function indexOfBytes(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  const first = needle[0]!;
  for (
    let i = hay.indexOf(first, from);
    i >= 0 && i + needle.length <= hay.length;
    i = hay.indexOf(first, i + 1)
  ) {
    let ok = true;
    for (let k = 1; k < needle.length; k++) {
      if (hay[i + k] !== needle[k]) {
        ok = false;
        break;
      }
    }
    if (ok) return i;
  }
  return -1;
}

/** Finds and unquotes a `\xff Go build ID: "..."\n \xff` record in `b`; undefined when absent or malformed. */
export function findGoBuildId(b: Uint8Array): string | undefined {
  let from = 0;
  for (let guard = 0; guard < 64; guard++) {
    const i = indexOfBytes(b, PREFIX, from);
    if (i < 0) return undefined;
    const q = i + PREFIX.length - 1; // the opening quote
    const limit = b.subarray(q, Math.min(b.length, q + MAX_GO_BUILD_ID + SUFFIX.length + 1));
    const j = indexOfBytes(limit, SUFFIX);
    if (j >= 0) {
      const lit = Buffer.from(b.subarray(q, q + j + 1)).toString("latin1");
      const id = goUnquote(lit);
      if (id !== undefined) return id;
    }
    from = i + 1;
  }
  return undefined;
}

function noteString(desc: Uint8Array): string {
  let end = desc.length;
  while (end > 0 && desc[end - 1] === 0) end--;
  return Buffer.from(desc.subarray(0, end)).toString("utf8");
}

/** The Go build ID of `obj`, or undefined. */
export function goBuildId(obj: ObjectFile): string | undefined {
  if (obj.format === "elf") {
    for (const n of obj.notes()) {
      if (n.name === "Go" && n.type === NT_GO_BUILD_ID && n.desc.length > 0) return noteString(n.desc);
    }
  }
  const text = obj.section(obj.format === "macho" ? "__TEXT,__text" : ".text") ?? obj.section("__text");
  if (text !== undefined && text.fileSize > 0) {
    const n = Math.min(text.fileSize, SEARCH_BYTES);
    const id = findGoBuildId(readAt(obj.source, text.offset, n, obj.format, "text section start"));
    if (id !== undefined) return id;
  }
  // The start of the image: for a fat Mach-O that is its slice, not the fat header.
  const base = (obj as { sliceOffset?: number }).sliceOffset ?? 0;
  const n = Math.min(SEARCH_BYTES, obj.source.size - base);
  if (n > 0) return findGoBuildId(readAt(obj.source, base, n, obj.format, "file start"));
  return undefined;
}

/** The GNU build ID (lowercase hex), or undefined. */
export function gnuBuildId(obj: ObjectFile): string | undefined {
  for (const n of obj.notes()) {
    if (n.name === "GNU" && n.type === NT_GNU_BUILD_ID && n.desc.length > 0) return hex(n.desc);
  }
  return undefined;
}

/** SHA-256 (lowercase hex) of the whole file, streamed through the source in 1 MiB chunks. */
export function sha256Of(obj: ObjectFile): string {
  const src = obj.source;
  crypto ??= require("node:crypto") as typeof import("node:crypto");
  const h = crypto.createHash("sha256");
  for (let off = 0; off < src.size; off += HASH_CHUNK) {
    h.update(src.read(off, Math.min(HASH_CHUNK, src.size - off), "file (sha256)"));
  }
  return h.digest("hex");
}

/**
 * All build IDs of `obj`. `sha256` may be given when the caller already knows the file's hash (the
 * local store is content-addressed), or `null` to skip hashing (the field is then "", for one-shot
 * CLI lookups that never use it); by default the file is hashed, streamed in chunks.
 */
export function computeBuildIds(obj: ObjectFile, sha256?: string | null): BuildIds {
  const ids: BuildIds = { sha256: sha256 === null ? "" : (sha256 ?? sha256Of(obj)) };
  const gnu = gnuBuildId(obj);
  if (gnu !== undefined) ids.gnu = gnu;
  const go = goBuildId(obj);
  if (go !== undefined) ids.go = go;
  if (obj.uuid !== undefined) ids.machoUuid = obj.uuid.toLowerCase().replaceAll("-", "");
  return ids;
}

/** `0123...` (32 hex digits) as `01234567-89ab-cdef-0123-456789abcdef`. */
export function dashedUuid(u: string): string {
  if (!/^[0-9a-f]{32}$/.test(u)) {
    throw new GosymdError("invalid_argument", `not a 32-digit hex UUID: ${u}`);
  }
  return `${u.slice(0, 8)}-${u.slice(8, 12)}-${u.slice(12, 16)}-${u.slice(16, 20)}-${u.slice(20)}`;
}

/**
 * Every string a client may send to name this binary: the GNU build ID (hex), the Go build ID,
 * the Mach-O UUID with and without dashes (lowercase), and `sha256:<hex>`. No duplicates.
 */
export function buildIdAliases(ids: BuildIds): string[] {
  const out: string[] = [];
  const add = (s: string | undefined) => {
    if (s !== undefined && s !== "" && !out.includes(s)) out.push(s);
  };
  add(ids.gnu?.toLowerCase());
  add(ids.go);
  if (ids.machoUuid !== undefined) {
    const u = ids.machoUuid.toLowerCase().replaceAll("-", "");
    add(u);
    if (/^[0-9a-f]{32}$/.test(u)) add(dashedUuid(u));
  }
  add(`sha256:${ids.sha256.toLowerCase()}`);
  return out;
}
