/**
 * The byte-bounded in-memory cache of decoded binaries, in front of the binary sources.
 *
 * - Entries are keyed by the canonical ID ("sha256:<hex>"); every alias key (GNU build ID, Go
 *   build ID, Mach-O UUID) maps to it, so all aliases share one decoded copy.
 * - The budget is in bytes of decoded tables (GoBinary.memoryBytes), enforced by lru-cache's
 *   maxSize; least recently used entries are evicted first. A binary larger than the whole
 *   budget is decoded and used for the request that asked, but not kept.
 * - Concurrent requests for one cold binary are coalesced: one source lookup per alias, one
 *   decode per canonical ID. A waiter's own abort signal only abandons its wait, never the load
 *   others are waiting for.
 */
import { LRUCache } from "lru-cache";
import { GosymdError, toGosymdError } from "../bytes/errors.js";
import { BufferSource, FileSource } from "../bytes/source.js";
import { openObject } from "../object/open.js";
import type { Segment } from "../object/types.js";
import type { BinarySource, FoundBinary } from "../sources/types.js";
import type { GoBinary } from "../symtab/api.js";
import { openBinary } from "../symtab/index.js";
import { inSpanSync, m } from "../telemetry/index.js";
import { aliasKeys, binaryAliasKeys, canonicalId } from "./aliases.js";
import { Answers } from "./answers.js";

const ANSWER_CHUNK = 1 << 20;

export interface CachedBinary {
  /** Canonical ID, "sha256:<hex>". */
  readonly id: string;
  readonly bin: GoBinary;
  /** Every alias key it is indexed under. */
  readonly keys: readonly string[];
  /** Loadable segments, for mapping file offsets to addresses (empty if unknown). */
  readonly segments: readonly Segment[];
  /** Bytes charged to the cache budget. */
  readonly bytes: number;
  /**
   * Answers already computed for this binary: link-time PC → the encoded Location body (frames,
   * reason; everything but the address). Bounded by the cache's answer budget.
   */
  readonly answers: Answers;
  answerBytes: number;
}

/** Bookkeeping bytes charged per remembered answer (its index entry). */
const ANSWER_OVERHEAD = 64;

/** Opens a binary from a file path or in-memory bytes. Tests substitute a counting fake. */
export type Decoder = (input: { path: string } | { bytes: Uint8Array }) => {
  bin: GoBinary;
  segments: readonly Segment[];
};

/** Decodes with the engine (openBinary) and reads the segment table with the object layer. */
export const defaultDecoder: Decoder = (input) => {
  const source = "path" in input ? new FileSource(input.path) : new BufferSource(input.bytes);
  try {
    const bin = openBinary(source);
    let segments: readonly Segment[] = bin.info.segments ?? [];
    if (segments.length === 0) {
      try {
        segments = openObject(source).segments.slice();
      } catch {
        segments = [];
      }
    }
    return { bin, segments };
  } finally {
    // The decoded tables are copies; the file handle is not needed any more.
    if ("path" in input) source.close();
  }
};

export interface BinaryCacheOptions {
  /** Budget in bytes of decoded tables. */
  maxBytes: number;
  /** Tried in order on a miss. */
  sources: readonly BinarySource[];
  decoder?: Decoder;
  /** Fixed bytes charged per entry on top of GoBinary.memoryBytes (bookkeeping, strings). */
  entryOverheadBytes?: number;
  /**
   * Part of maxBytes set aside for remembered answers (encoded locations per PC), so hot PCs skip
   * lookup and encoding. Default 1/8 of maxBytes; 0 disables. Decoded tables get the rest.
   */
  answerBytes?: number;
}

export interface GetOptions {
  signal?: AbortSignal | undefined;
  /** Also ask remote sources (default true). */
  remote?: boolean;
}

export interface CacheStats {
  entries: number;
  /** Decoded tables plus remembered answers. */
  bytes: number;
  answerBytes: number;
  maxBytes: number;
  hits: number;
  misses: number;
  coalesced: number;
  decodes: number;
  evictions: number;
}

export class BinaryCache {
  private readonly lru: LRUCache<string, CachedBinary>;
  /** alias key → canonical ID, for entries currently in the LRU. */
  private readonly alias = new Map<string, string>();
  /** In-flight lookups by the first alias key a client used. */
  private readonly lookups = new Map<string, Promise<CachedBinary>>();
  /** In-flight decodes by canonical ID. */
  private readonly decodes = new Map<string, Promise<CachedBinary>>();
  readonly decoder: Decoder;
  private readonly overhead: number;
  private readonly answerBudget: number;
  private answerTotal = 0;
  readonly sources: readonly BinarySource[];
  private readonly counters = { hits: 0, misses: 0, coalesced: 0, decodes: 0, evictions: 0 };

  constructor(opts: BinaryCacheOptions) {
    if (!(opts.maxBytes > 0)) throw new GosymdError("invalid_argument", "cache budget must be > 0 bytes");
    this.decoder = opts.decoder ?? defaultDecoder;
    this.overhead = opts.entryOverheadBytes ?? 4096;
    this.answerBudget = Math.min(opts.maxBytes - 1, opts.answerBytes ?? Math.floor(opts.maxBytes / 8));
    this.sources = opts.sources;
    this.lru = new LRUCache<string, CachedBinary>({
      maxSize: Math.max(1, opts.maxBytes - this.answerBudget),
      sizeCalculation: (v) => Math.max(1, v.bytes),
      dispose: (v, k, reason) => {
        this.answerTotal -= v.answerBytes;
        v.answers.clear();
        v.answerBytes = 0;
        for (const key of v.keys) if (this.alias.get(key) === k) this.alias.delete(key);
        m().cacheBytes.add(-v.bytes);
        if (reason === "evict") {
          this.counters.evictions++;
          m().cacheEvictions.add(1);
        }
        try {
          v.bin.close();
        } catch {
          // closing only releases handles
        }
      },
    });
  }

  get maxBytes(): number {
    return this.lru.maxSize + this.answerBudget;
  }

  /**
   * Remembers an encoded answer for `pc`. When the answer budget is full, the answers of this
   * binary (or, if it has none, of every binary) are dropped first: simple, bounded, and hot PCs
   * come back within one request.
   */
  remember(entry: CachedBinary, pc: number, body: Uint8Array, len: number): void {
    if (this.answerBudget <= 0 || this.lru.peek(entry.id) !== entry) return;
    // Worst case: a new chunk plus the index entry.
    const worst = ANSWER_CHUNK + ANSWER_OVERHEAD;
    if (this.answerTotal + worst > this.answerBudget) {
      if (entry.answerBytes > 0) this.dropAnswers(entry);
      else for (const e of this.lru.values()) this.dropAnswers(e);
      if (worst > this.answerBudget) return;
    }
    const cost = entry.answers.add(pc, body, len) + ANSWER_OVERHEAD;
    entry.answerBytes += cost;
    this.answerTotal += cost;
  }

  private dropAnswers(e: CachedBinary): void {
    this.answerTotal -= e.answerBytes;
    e.answers.clear();
    e.answerBytes = 0;
  }

  stats(): CacheStats {
    return {
      entries: this.lru.size,
      bytes: this.lru.calculatedSize + this.answerTotal,
      answerBytes: this.answerTotal,
      maxBytes: this.lru.maxSize + this.answerBudget,
      ...this.counters,
    };
  }

  /** The cached entry for any of these alias keys, without touching sources. */
  peek(keys: readonly string[]): CachedBinary | undefined {
    for (const k of keys) {
      const id = this.alias.get(k);
      if (id === undefined) continue;
      const e = this.lru.get(id);
      if (e) return e;
    }
    return undefined;
  }

  /**
   * The decoded binary for a client-supplied build ID (any alias). Throws `invalid_argument` for a
   * malformed ID, `not_found` naming the ID and the sources tried, or the source's/decoder's error.
   */
  async get(buildId: string, opts: GetOptions = {}): Promise<CachedBinary> {
    const keys = aliasKeys(buildId);
    const hit = this.peek(keys);
    if (hit) {
      this.counters.hits++;
      m().cacheLookups.add(1, { result: "hit" });
      return hit;
    }
    // Not throwIfAborted(): that throws the bare reason (an Error named TimeoutError at a
    // deadline), which the RPC edge would report as INTERNAL.
    if (opts.signal?.aborted) throw abortError(opts.signal);
    const remote = opts.remote ?? true;
    const lookupKey = `${remote ? "r" : "l"}:${keys[0]!}`;
    let p = this.lookups.get(lookupKey);
    if (p) {
      this.counters.coalesced++;
      m().cacheLookups.add(1, { result: "coalesced" });
    } else {
      this.counters.misses++;
      m().cacheLookups.add(1, { result: "miss" });
      p = this.lookup(buildId, keys, remote).finally(() => this.lookups.delete(lookupKey));
      this.lookups.set(lookupKey, p);
    }
    return waitFor(p, opts.signal);
  }

  /** Decodes inline bytes (BinaryRef.contents), cached by content hash like any other binary. */
  async getByContents(bytes: Uint8Array, sha256Hex: string, opts: GetOptions = {}): Promise<CachedBinary> {
    const id = canonicalId(sha256Hex);
    const hit = this.peek([id]);
    if (hit) {
      this.counters.hits++;
      m().cacheLookups.add(1, { result: "hit" });
      return hit;
    }
    this.counters.misses++;
    m().cacheLookups.add(1, { result: "miss" });
    // Not throwIfAborted(): that throws the bare reason (an Error named TimeoutError at a
    // deadline), which the RPC edge would report as INTERNAL.
    if (opts.signal?.aborted) throw abortError(opts.signal);
    return waitFor(
      this.decodeOnce(id, () => this.decoder({ bytes })),
      opts.signal,
    );
  }

  /** Adds an already decoded binary (e.g. just uploaded), indexed under all its aliases. */
  insert(bin: GoBinary, segments: readonly Segment[] = []): CachedBinary {
    const keys = binaryAliasKeys(bin.info.buildIds);
    const entry: CachedBinary = {
      id: keys[0]!,
      bin,
      keys,
      segments,
      bytes: Math.max(0, bin.memoryBytes) + this.overhead,
      answers: new Answers(),
      answerBytes: 0,
    };
    this.store(entry);
    return entry;
  }

  /** Drops everything (tests, shutdown). */
  clear(): void {
    this.lru.clear();
  }

  private async lookup(buildId: string, keys: string[], remote: boolean): Promise<CachedBinary> {
    const tried: string[] = [];
    const failures: GosymdError[] = [];
    for (const src of this.sources) {
      if (src.remote && !remote) continue;
      if (!src.accepts(keys)) continue;
      let found: FoundBinary | undefined;
      try {
        found = await src.find(keys, {});
      } catch (e) {
        const err = toGosymdError(e);
        // A source that returned something unusable for this ID is a hard answer; an upstream
        // that is down is remembered and the next source is tried.
        if (err.kind !== "unavailable" && err.kind !== "deadline_exceeded") throw err;
        tried.push(`${src.name} (failed: ${err.message})`);
        failures.push(err);
        continue;
      }
      if (!found) {
        tried.push(src.name);
        continue;
      }
      const cached = this.peek([found.id]);
      if (cached) {
        this.addAliases(cached, keys);
        return cached;
      }
      const { path, decoded } = found;
      const entry = await this.decodeOnce(found.id, () => decoded ?? this.decoder({ path }));
      this.addAliases(entry, keys);
      return entry;
    }
    const where = tried.length > 0 ? tried.join(", ") : "no source accepts this kind of ID";
    // Not found where we could look, but a source that might have it could not be asked.
    if (failures.length > 0) {
      throw new GosymdError("unavailable", `binary ${buildId} could not be fetched; tried: ${where}`, {
        cause: failures[0],
      });
    }
    throw new GosymdError("not_found", `unknown build ID ${buildId}; tried: ${where}`, {
      hint: "upload the binary with `gosymd upload --server URL FILE`",
    });
  }

  /**
   * Decodes outside the cache (uploads, debuginfod verification) with the same span, metric and
   * counter as a cache load; the caller may insert() the result.
   */
  decodeFile(path: string): { bin: GoBinary; segments: readonly Segment[] } {
    return this.timedDecode(path, () => this.decoder({ path }));
  }

  private timedDecode(
    what: string,
    decode: () => { bin: GoBinary; segments: readonly Segment[] },
  ): { bin: GoBinary; segments: readonly Segment[] } {
    const t0 = performance.now();
    const r = inSpanSync("gosymd.decode", { "gosymd.binary": what }, () => decode());
    this.counters.decodes++;
    m().decodeDuration.record(performance.now() - t0);
    return r;
  }

  private decodeOnce(
    id: string,
    decode: () => { bin: GoBinary; segments: readonly Segment[] },
  ): Promise<CachedBinary> {
    let p = this.decodes.get(id);
    if (p) return p;
    p = new Promise<CachedBinary>((resolve, reject) => {
      // Run on a later tick so every request that arrives in this one coalesces onto it.
      setImmediate(() => {
        try {
          const { bin, segments } = this.timedDecode(id, decode);
          const keys = binaryAliasKeys(bin.info.buildIds);
          if (keys[0] !== id) {
            throw new GosymdError("internal", `decoded binary hashes to ${keys[0]}, expected ${id}`);
          }
          const entry: CachedBinary = {
            id,
            bin,
            keys,
            segments,
            bytes: Math.max(0, bin.memoryBytes) + this.overhead,
            answers: new Answers(),
            answerBytes: 0,
          };
          this.store(entry);
          resolve(entry);
        } catch (e) {
          reject(toGosymdError(e));
        }
      });
    }).finally(() => this.decodes.delete(id));
    this.decodes.set(id, p);
    return p;
  }

  private store(entry: CachedBinary): void {
    this.lru.set(entry.id, entry);
    if (this.lru.peek(entry.id) !== entry) return; // larger than the whole budget: not kept
    m().cacheBytes.add(entry.bytes);
    for (const k of entry.keys) this.alias.set(k, entry.id);
  }

  private addAliases(entry: CachedBinary, keys: readonly string[]): void {
    // Only keys that really are this binary's (a bare 64-hex key may have meant sha256 or GNU).
    if (this.lru.peek(entry.id) !== entry) return;
    for (const k of keys) if (entry.keys.includes(k)) this.alias.set(k, entry.id);
  }
}

function waitFor<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

function abortError(signal: AbortSignal): GosymdError {
  const r = signal.reason as { name?: string; message?: string } | undefined;
  const timeout = r?.name === "TimeoutError" || /deadline/i.test(String(r?.message ?? ""));
  return new GosymdError(timeout ? "deadline_exceeded" : "cancelled", r?.message ?? "request cancelled");
}
