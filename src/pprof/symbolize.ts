/**
 * Symbolizes a pprof profile: every location whose mapping's build ID names a known Go binary
 * gets its Line entries (inlined frames first, the physical function last, as profile.proto
 * orders them), functions are deduplicated and appended, and the mapping flags are set.
 *
 * Address convention: a Location's `address` is looked up exactly as given. That is what
 * runtime/pprof writes — for a stack PC it records `runtime.Frame.PC`, the return address minus
 * one, which already points into the call instruction — and what pprof's own symbolizers assume.
 * Agents that record raw return addresses produce the same convention by subtracting one
 * themselves (pprof has no field saying otherwise).
 *
 * Memory: the (inflated) input is held once; the output is generated lazily as chunks that are
 * mostly views of the input (see encode.ts), gzipped as a stream.
 */
import { GosymdError, isGosymdError } from "../bytes/errors.js";
import type { GoBinary } from "../symtab/api.js";
import type { MappingRec, ProfileIndex, ProfileLimits } from "./decode.js";
import { DEFAULT_PROFILE_LIMITS, indexProfile, NumColumn, profileString } from "./decode.js";
import type { EncodePlan, MappingFlags } from "./encode.js";
import { encodeProfile } from "./encode.js";
import { concatChunks, gunzipCapped, gzipChunks, isGzip, writeChunks } from "./gzip.js";
import type { BinaryMemo } from "./memo.js";
import { COUNT_MASK, memoFor, NO_FILE, NO_LINE } from "./memo.js";
import type { LoadSegment } from "./normalize.js";
import { AddressMapper, NOT_MAPPED } from "./normalize.js";
import { UNSAFE } from "./wire.js";

/** What the resolver callback is told about a mapping. */
export interface ProfileMapping {
  /** Mapping id (UNSAFE = -1 when it does not fit 53 bits). */
  id: number;
  start: number;
  limit: number;
  offset: number;
  filename: string;
  /** The build ID as written in the profile (trimmed). */
  buildId: string;
}

/** A binary plus the segments used to map runtime addresses (when `info.segments` is absent). */
export interface ProfileBinary {
  binary: GoBinary;
  segments: readonly LoadSegment[];
}

/**
 * Finds the binary a build ID names (any alias: GNU, Go, Mach-O UUID, sha256:…), or undefined
 * when it is unknown. Called at most once per distinct build ID of a profile. A GosymdError thrown
 * here marks that mapping as failed (reported in the stats) instead of failing the profile.
 */
export type ResolveBinary = (
  buildId: string,
  mapping: ProfileMapping,
) => GoBinary | ProfileBinary | undefined | Promise<GoBinary | ProfileBinary | undefined>;

export interface SymbolizeProfileOptions {
  /** Re-symbolize locations that already have lines (default: keep them). */
  redo?: boolean;
  /**
   * Leave compiler-generated wrapper frames (pointer-receiver and method-value wrappers, `go`
   * statement wrappers...) out of inline chains, as Go tracebacks and runtime/pprof do
   * (default true). A PC whose only frame is a wrapper keeps it.
   */
  elideWrappers?: boolean;
  /** "gzip" (default), "raw", or "same" as the input. */
  output?: "gzip" | "raw" | "same";
  /** gzip level 1–9 (default 1, the level runtime/pprof writes with). */
  gzipLevel?: number;
  /** Largest uncompressed profile accepted, in bytes (default 512 MiB); also caps inflation. */
  maxProfileBytes?: number;
  limits?: Partial<ProfileLimits>;
  /**
   * Most PCs remembered per binary across calls (default 1,048,576; see memo.ts). Fixed by the
   * first call that meets the binary.
   */
  maxMemoPcs?: number;
  signal?: AbortSignal;
}

export const DEFAULT_MAX_PROFILE_BYTES = 512 * 1024 * 1024;

export interface MappingStats {
  mappingId: number;
  buildId: string;
  filename: string;
  /** Locations that reference this mapping. */
  locations: number;
  /** Locations that had lines and were kept as they were. */
  alreadySymbolized: number;
  /** Locations given lines now. */
  resolved: number;
  /** Locations that needed lines and got none (unknown binary or address). */
  unresolved: number;
  /** Whether a binary was found for the build ID. */
  binaryFound: boolean;
  /** Why the binary could not be used, when the resolver failed. */
  error?: string;
}

export interface ProfileStats {
  perMapping: MappingStats[];
  /** Non-empty build IDs of mappings that needed symbols and named no known binary (sorted). */
  missingBuildIds: string[];
  locations: number;
  resolved: number;
  alreadySymbolized: number;
  unresolved: number;
  /** Locations without a (known) mapping: left as they are. */
  unmappedLocations: number;
  functionsAdded: number;
  stringsAdded: number;
  /** Uncompressed input size and whether the input was gzipped. */
  inputBytes: number;
  inputGzipped: boolean;
}

export interface PreparedProfile {
  stats: ProfileStats;
  /** Uncompressed output, lazily (each call starts over). */
  chunks(): Generator<Uint8Array>;
}

export interface SymbolizeProfileResult {
  profile: Uint8Array;
  gzipped: boolean;
  stats: ProfileStats;
}

/** Inflates (if gzipped) with the size cap. */
export async function inflateProfile(
  input: Uint8Array,
  maxBytes = DEFAULT_MAX_PROFILE_BYTES,
): Promise<Uint8Array> {
  if (isGzip(input)) return gunzipCapped(input, maxBytes);
  if (input.length > maxBytes) {
    throw new GosymdError(
      "limit_exceeded",
      `the profile is ${input.length} bytes; at most ${maxBytes} are accepted`,
      {
        format: "pprof",
      },
    );
  }
  return input;
}

/** Symbolizes `input` (profile.proto, gzipped or not) and returns the new profile and stats. */
export async function symbolizeProfile(
  input: Uint8Array,
  resolveBinary: ResolveBinary,
  opts: SymbolizeProfileOptions = {},
): Promise<SymbolizeProfileResult> {
  const prepared = await prepareProfile(input, resolveBinary, opts);
  const gzipped = wantGzip(opts, prepared.stats.inputGzipped);
  // Output is about the input plus the symbols; a gzipped input is the best size hint.
  const hint = prepared.stats.inputGzipped ? input.length * 1.25 + 65536 : prepared.stats.inputBytes / 3;
  const profile = gzipped
    ? await gzipChunks(prepared.chunks(), opts.gzipLevel ?? 1, hint)
    : concatChunks(prepared.chunks());
  return { profile, gzipped, stats: prepared.stats };
}

/**
 * Like symbolizeProfile, but streams the output into `sink` (e.g. a file); returns the stats. A
 * function sink is called only once the profile has been parsed and resolved, so a bad input
 * creates no output file.
 */
export async function symbolizeProfileTo(
  input: Uint8Array,
  resolveBinary: ResolveBinary,
  sink: NodeJS.WritableStream | (() => NodeJS.WritableStream),
  opts: SymbolizeProfileOptions = {},
): Promise<ProfileStats> {
  const prepared = await prepareProfile(input, resolveBinary, opts);
  const gzipped = wantGzip(opts, prepared.stats.inputGzipped);
  const out = typeof sink === "function" ? sink() : sink;
  await writeChunks(prepared.chunks(), out, gzipped ? (opts.gzipLevel ?? 1) : undefined);
  return prepared.stats;
}

function wantGzip(opts: SymbolizeProfileOptions, inputGzipped: boolean): boolean {
  const o = opts.output ?? "gzip";
  return o === "gzip" || (o === "same" && inputGzipped);
}

interface Target {
  memo: BinaryMemo;
  /** This profile's Function id per memo function (0 = not assigned yet). */
  ids: FuncIds;
  mapper: AddressMapper;
  inlineFrames: boolean;
}

interface MappingState {
  rec: MappingRec;
  stats: MappingStats;
  target: Target | undefined;
  /** Locations that need symbols (no lines, or all with redo). */
  need: number;
  /** Locations that will have lines in the output. */
  withLines: number;
  allFiles: boolean;
  allLines: boolean;
}

/** Parses, resolves and plans; the returned object generates the output on demand. */
export async function prepareProfile(
  input: Uint8Array,
  resolveBinary: ResolveBinary,
  opts: SymbolizeProfileOptions = {},
): Promise<PreparedProfile> {
  const signal = opts.signal;
  checkAborted(signal);
  const inputGzipped = isGzip(input);
  const inflated = await inflateProfile(input, opts.maxProfileBytes ?? DEFAULT_MAX_PROFILE_BYTES);
  // One array type throughout (a Buffer is a Uint8Array subclass; mixing them slows every access).
  const raw = new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength);
  checkAborted(signal);
  const idx = indexProfile(raw, { ...DEFAULT_PROFILE_LIMITS, ...opts.limits });
  const redo = opts.redo === true;
  const nLoc = idx.locId.length;

  // Mappings by id (the first one wins on duplicates) and per-mapping counts.
  const states: MappingState[] = idx.mappings.map((rec) => ({
    rec,
    stats: {
      mappingId: rec.id,
      buildId: safeString(idx, rec.buildIdIdx, "mapping build_id").trim(),
      filename: safeString(idx, rec.filenameIdx, "mapping filename"),
      locations: 0,
      alreadySymbolized: 0,
      resolved: 0,
      unresolved: 0,
      binaryFound: false,
    },
    target: undefined,
    need: 0,
    withLines: 0,
    allFiles: true,
    allLines: true,
  }));
  const byId = new Map<number, MappingState>();
  for (const s of states)
    if (s.rec.id !== UNSAFE && s.rec.id !== 0 && !byId.has(s.rec.id)) byId.set(s.rec.id, s);

  const locState: (MappingState | undefined)[] = new Array(nLoc);
  let unmapped = 0;
  for (let i = 0; i < nLoc; i++) {
    const st = byId.get(idx.locMapping.get(i));
    locState[i] = st;
    if (st === undefined) {
      unmapped++;
      continue;
    }
    st.stats.locations++;
    if (idx.locLines.get(i) === 0 || redo) st.need++;
  }

  // One resolver call per distinct build ID that some location needs.
  const lookups = new Map<string, Promise<GoBinary | ProfileBinary | undefined>>();
  for (const st of states) {
    const id = st.stats.buildId;
    if (st.need === 0 || id === "" || lookups.has(id)) continue;
    const m: ProfileMapping = {
      id: st.rec.id,
      start: st.rec.start,
      limit: st.rec.limit,
      offset: st.rec.offset,
      filename: st.stats.filename,
      buildId: id,
    };
    const p = Promise.resolve().then(() => resolveBinary(id, m));
    p.catch(() => {}); // awaited below; never an unhandled rejection if we bail out first
    lookups.set(id, p);
  }
  const missing = new Set<string>();
  const idsByMemo = new Map<BinaryMemo, FuncIds>();
  for (const st of states) {
    const id = st.stats.buildId;
    const p = lookups.get(id);
    if (st.need === 0 || p === undefined) continue;
    let found: GoBinary | ProfileBinary | undefined;
    try {
      found = await p;
    } catch (e) {
      if (!isGosymdError(e) || e.kind === "internal") throw e;
      st.stats.error = e.message;
      continue;
    }
    if (found === undefined) {
      missing.add(id);
      continue;
    }
    const binary = "resolve" in found ? found : found.binary;
    const segments = "resolve" in found ? found.info.segments : found.segments;
    if (segments === undefined) {
      throw new GosymdError("internal", "the binary's segments are not available to map profile addresses");
    }
    st.stats.binaryFound = true;
    const memo = memoFor(binary, opts.maxMemoPcs, opts.elideWrappers !== false);
    let ids = idsByMemo.get(memo);
    if (ids === undefined) {
      ids = {
        ids: new Int32Array(Math.max(64, memo.fnName.length)),
        strings: new Int32Array(Math.max(64, memo.strings.length)),
      };
      idsByMemo.set(memo, ids);
    }
    st.target = {
      memo,
      ids,
      mapper: new AddressMapper(st.rec, segments),
      inlineFrames: binary.info.pclntab?.inlineTrees === true,
    };
  }
  checkAborted(signal);

  // Resolve.
  const tables = new Tables(idx);
  const plan: EncodePlan = {
    locNewStart: new NumColumn(Math.max(16, nLoc)),
    locNewCount: new NumColumn(Math.max(16, nLoc)),
    lineFunc: new NumColumn(),
    lineNo: new NumColumn(),
    mappingFlags: [],
    newFuncId: tables.newFuncId,
    newFuncName: tables.newFuncName,
    newFuncFile: tables.newFuncFile,
    newFuncStartLine: tables.newFuncStartLine,
    newStrings: tables.newStrings,
  };
  let resolved = 0;
  let kept = 0;
  let unresolved = 0;
  for (let i = 0; i < nLoc; i++) {
    if ((i & 0xffff) === 0xffff) {
      checkAborted(signal);
      await yieldToEventLoop();
    }
    const st = locState[i];
    const hadLines = idx.locLines.get(i) > 0;
    if (st === undefined) {
      plan.locNewStart.push(-1);
      plan.locNewCount.push(0);
      continue;
    }
    if (hadLines && !redo) {
      plan.locNewStart.push(-1);
      plan.locNewCount.push(0);
      st.stats.alreadySymbolized++;
      st.withLines++;
      kept++;
      continue;
    }
    const t = st.target;
    const pc = t === undefined ? NOT_MAPPED : t.mapper.toLinkTime(idx.locAddress.get(i));
    const off = pc === NOT_MAPPED ? -1 : t!.memo.lookup(pc);
    if (off < 0) {
      plan.locNewStart.push(-1);
      plan.locNewCount.push(0);
      st.stats.unresolved++;
      unresolved++;
      if (hadLines) st.withLines++;
      continue;
    }
    const memo = t!.memo;
    const pool = memo.pool;
    const header = pool[off]!;
    const n = header & COUNT_MASK;
    if ((header & NO_FILE) !== 0) st.allFiles = false;
    if ((header & NO_LINE) !== 0) st.allLines = false;
    plan.locNewStart.push(plan.lineFunc.length);
    plan.locNewCount.push(n);
    const ids = t!.ids;
    for (let k = 0; k < n; k++) {
      const gfid = pool[off + 1 + 2 * k]!;
      let id = gfid < ids.ids.length ? ids.ids[gfid]! : 0;
      if (id === 0) id = tables.assign(memo, ids, gfid);
      plan.lineFunc.push(id);
      plan.lineNo.push(pool[off + 2 + 2 * k]!);
    }
    st.stats.resolved++;
    st.withLines++;
    resolved++;
  }

  // Mapping flags: set when every location of the mapping now has lines and we added some. A
  // flag that kept locations might not satisfy is only set if the input already claimed it.
  for (const st of states) {
    const r = st.rec;
    if (st.stats.resolved === 0 || st.withLines !== st.stats.locations || byId.get(r.id) !== st) {
      plan.mappingFlags.push(undefined);
      continue;
    }
    const keptAny = st.stats.alreadySymbolized > 0;
    const f: MappingFlags = {
      hasFunctions: true,
      hasFilenames: r.hasFilenames || (st.allFiles && !keptAny),
      hasLineNumbers: r.hasLineNumbers || (st.allLines && !keptAny),
      hasInlineFrames: r.hasInlineFrames || (st.target?.inlineFrames === true && !keptAny),
    };
    const same =
      f.hasFunctions === r.hasFunctions &&
      f.hasFilenames === r.hasFilenames &&
      f.hasLineNumbers === r.hasLineNumbers &&
      f.hasInlineFrames === r.hasInlineFrames;
    plan.mappingFlags.push(same ? undefined : f);
  }

  const stats: ProfileStats = {
    perMapping: states.map((s) => s.stats),
    missingBuildIds: [...missing].sort(),
    locations: nLoc,
    resolved,
    alreadySymbolized: kept,
    unresolved,
    unmappedLocations: unmapped,
    functionsAdded: tables.newFuncId.length,
    stringsAdded: tables.newStrings.length,
    inputBytes: raw.length,
    inputGzipped,
  };
  return { stats, chunks: () => encodeProfile(idx, plan) };
}

function safeString(idx: ProfileIndex, i: number, field: string): string {
  return profileString(idx, i, field);
}

/** Lines and start lines: positive safe integers, else 0 (unknown). */
function positiveOrZero(n: number): number {
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new GosymdError("cancelled", "profile symbolization was cancelled", { cause: signal.reason });
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Most existing strings indexed for reuse; past this, new strings may duplicate old ones. */
const MAX_INDEXED_STRINGS = 2_000_000;

interface FuncEntry {
  id: number;
  file: string;
  startLine: number;
  next: FuncEntry | undefined;
}

/** String and function interning against the input's tables. */
class Tables {
  private readonly strings = new Map<string, number>();
  private readonly funcs = new Map<string, FuncEntry>();
  private nextString: number;
  private nextFuncId: number;
  /** Whether the input has functions (then new frames are matched against them by name). */
  readonly reuse: boolean;
  readonly newStrings: (string | Uint8Array)[] = [];
  readonly newFuncId = new NumColumn();
  readonly newFuncName = new NumColumn();
  readonly newFuncFile = new NumColumn();
  readonly newFuncStartLine = new NumColumn();

  constructor(idx: ProfileIndex) {
    const n = idx.strStart.length;
    this.nextString = n;
    if (n <= MAX_INDEXED_STRINGS) {
      for (let i = n - 1; i >= 0; i--) this.strings.set(profileString(idx, i, "string"), i);
    }
    this.nextFuncId = idx.maxFunctionId + 1;
    this.reuse = idx.funcId.length > 0;
    // Reuse existing functions whose system name is their name (what we would write).
    for (let i = 0; i < idx.funcId.length; i++) {
      const id = idx.funcId.get(i);
      const nameIdx = idx.funcName.get(i);
      const sysIdx = idx.funcSystemName.get(i);
      const fileIdx = idx.funcFilename.get(i);
      const start = idx.funcStartLine.get(i);
      if (id === UNSAFE || id === 0 || start === UNSAFE) continue;
      if ([nameIdx, sysIdx, fileIdx].some((x) => x === UNSAFE || x >= n)) continue;
      const name = profileString(idx, nameIdx, "function name");
      if (profileString(idx, sysIdx, "function system_name") !== name) continue;
      const file = profileString(idx, fileIdx, "function filename");
      if (this.find(name, file, start) === undefined) {
        this.funcs.set(name, { id, file, startLine: start, next: this.funcs.get(name) });
      }
    }
  }

  string(s: string): number {
    let i = this.strings.get(s);
    if (i === undefined) {
      i = this.nextString++;
      this.strings.set(s, i);
      this.newStrings.push(s);
    }
    return i;
  }

  private find(name: string, file: string, startLine: number): number | undefined {
    for (let e = this.funcs.get(name); e !== undefined; e = e.next) {
      if (e.file === file && e.startLine === startLine) return e.id;
    }
    return undefined;
  }

  /** This profile's Function id for memo function `gfid` (reusing or appending a Function). */
  assign(memo: BinaryMemo, ids: FuncIds, gfid: number): number {
    const nameId = memo.fnName[gfid]!;
    const fileId = memo.fnFile[gfid]!;
    const startLine = memo.fnStartLine[gfid]!;
    let id: number;
    if (this.reuse) {
      id = this.func(memo.strings[nameId]!, memo.strings[fileId]!, startLine);
    } else {
      // The input has no functions to reuse: append, with strings deduplicated per memo.
      id = this.newId();
      this.newFuncId.push(id);
      this.newFuncName.push(this.memoString(memo, ids, nameId));
      this.newFuncFile.push(this.memoString(memo, ids, fileId));
      this.newFuncStartLine.push(positiveOrZero(startLine));
    }
    if (gfid >= ids.ids.length) ids.ids = grow(ids.ids, gfid, memo.fnName.length);
    // Ids beyond int32 (only if the input used huge function ids) are not memoized.
    if (id <= 0x7fff_ffff) ids.ids[gfid] = id;
    return id;
  }

  private memoString(memo: BinaryMemo, ids: FuncIds, sid: number): number {
    let i = sid < ids.strings.length ? ids.strings[sid]! : 0;
    if (i === 0) {
      const s = memo.strings[sid]!;
      // Deduplicated through `ids` (per memo); not against the input's few strings.
      if (s === "") i = 0;
      else {
        i = this.nextString++;
        this.newStrings.push(memo.utf8(sid));
      }
      if (sid >= ids.strings.length) ids.strings = grow(ids.strings, sid, memo.strings.length);
      if (i <= 0x7fff_ffff) ids.strings[sid] = i;
    }
    return i;
  }

  private newId(): number {
    const id = this.nextFuncId++;
    if (!Number.isSafeInteger(id)) {
      throw new GosymdError("limit_exceeded", "function ids of the profile leave no room for new functions", {
        format: "pprof",
      });
    }
    return id;
  }

  func(name: string, file: string, startLine: number): number {
    const head = this.funcs.get(name);
    if (head !== undefined && head.file === file && head.startLine === startLine) return head.id;
    const found = this.find(name, file, startLine);
    if (found !== undefined) return found;
    const id = this.newId();
    this.funcs.set(name, { id, file, startLine, next: head });
    this.newFuncId.push(id);
    this.newFuncName.push(this.string(name));
    this.newFuncFile.push(this.string(file));
    this.newFuncStartLine.push(positiveOrZero(startLine));
    return id;
  }
}

function grow(a: Int32Array, index: number, hint: number): Int32Array {
  const next = new Int32Array(Math.max(a.length * 2, index + 1, hint));
  next.set(a);
  return next;
}

/** Per profile and memo: Function id per memo function, string index per memo string (0 = none yet). */
interface FuncIds {
  ids: Int32Array;
  strings: Int32Array;
}
