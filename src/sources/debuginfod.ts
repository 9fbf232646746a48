/**
 * A debuginfod client as a binary source: `GET <url>/buildid/<hex>/executable`.
 *
 * - Only hex build IDs (GNU build IDs) are asked for; debuginfod knows nothing else.
 * - Each attempt has a timeout; transient failures (network, 5xx, 429) are retried with
 *   exponential backoff and jitter; a body larger than the size cap is refused.
 * - Misses (404) are remembered in a negative cache for `negativeTtlMs`, and an upstream that just
 *   failed is not asked again for `failureTtlMs`, so a hot unknown build ID does not hammer it.
 * - Concurrent lookups of one ID share one request.
 * - What is fetched is verified (decoded, and its GNU build ID must be the one asked for) and
 *   kept in the local store, so the next lookup is local.
 */
import { LRUCache } from "lru-cache";
import { GosymdError, toGosymdError } from "../bytes/errors.js";
import { isHexKey } from "../cache/aliases.js";
import type { Segment } from "../object/types.js";
import type { GoBinary } from "../symtab/api.js";
import { m } from "../telemetry/index.js";
import type { LocalStore } from "./store.js";
import type { BinarySource, FindContext, FoundBinary } from "./types.js";

export interface DebuginfodOptions {
  /** Server base URL, e.g. "http://debuginfod.example:8002". */
  url: string;
  store: LocalStore;
  /** Decodes a downloaded file (verifies it is a binary we can read). */
  decode: (path: string) => { bin: GoBinary; segments: readonly Segment[] };
  /** Per-attempt timeout (ms). Default 15 000 (DEBUGINFOD_TIMEOUT is in seconds). */
  timeoutMs?: number;
  /** Largest download accepted (bytes). Default 2 GiB. */
  maxBytes?: number;
  /** Retries after the first attempt for transient failures. Default 2. */
  retries?: number;
  /** First backoff (ms), doubled per retry. Default 200. */
  backoffMs?: number;
  /** How long a 404 is remembered (ms). Default 10 minutes. */
  negativeTtlMs?: number;
  /** How long an upstream failure is remembered per ID (ms). Default 15 s. */
  failureTtlMs?: number;
  /** Most remembered misses. Default 100 000. */
  negativeMax?: number;
}

export class DebuginfodSource implements BinarySource {
  readonly name: string;
  readonly remote = true;
  readonly url: string;
  private readonly o: Required<Omit<DebuginfodOptions, "url" | "store" | "decode">>;
  private readonly negative: LRUCache<string, string>;
  private readonly inflight = new Map<string, Promise<FoundBinary | undefined>>();
  /** Requests actually sent upstream (for tests and metrics). */
  requests = 0;

  constructor(private readonly opts: DebuginfodOptions) {
    const u = new URL(opts.url);
    if (u.protocol !== "http:" && u.protocol !== "https:") {
      throw new GosymdError("invalid_argument", `debuginfod URL must be http(s): ${opts.url}`);
    }
    this.url = opts.url.replace(/\/+$/, "");
    this.name = `debuginfod(${this.url})`;
    this.o = {
      timeoutMs: opts.timeoutMs ?? 15_000,
      maxBytes: opts.maxBytes ?? 2 * 1024 * 1024 * 1024,
      retries: opts.retries ?? 2,
      backoffMs: opts.backoffMs ?? 200,
      negativeTtlMs: opts.negativeTtlMs ?? 600_000,
      failureTtlMs: opts.failureTtlMs ?? 15_000,
      negativeMax: opts.negativeMax ?? 100_000,
    };
    this.negative = new LRUCache<string, string>({ max: this.o.negativeMax, ttlAutopurge: false, ttl: 1 });
  }

  accepts(keys: readonly string[]): boolean {
    return keys.some(isHexKey);
  }

  async find(keys: readonly string[], ctx: FindContext = {}): Promise<FoundBinary | undefined> {
    for (const key of keys) {
      if (!isHexKey(key)) continue;
      const neg = this.negative.get(key);
      if (neg !== undefined) {
        m().sourceFetches.add(1, { source: "debuginfod", result: "negative_cached" });
        if (neg === "missing") continue;
        throw new GosymdError("unavailable", `${this.name} failed recently for ${key}: ${neg}`);
      }
      let p = this.inflight.get(key);
      if (!p) {
        p = this.fetchOne(key, ctx.signal).finally(() => this.inflight.delete(key));
        this.inflight.set(key, p);
      }
      const found = await p;
      if (found) return found;
    }
    return undefined;
  }

  private async fetchOne(key: string, signal: AbortSignal | undefined): Promise<FoundBinary | undefined> {
    const url = `${this.url}/buildid/${key}/executable`;
    let lastError = "";
    for (let attempt = 0; attempt <= this.o.retries; attempt++) {
      if (attempt > 0) {
        const delay = this.o.backoffMs * 2 ** (attempt - 1) * (0.75 + Math.random() * 0.5);
        await new Promise((r) => setTimeout(r, delay));
      }
      signal?.throwIfAborted();
      this.requests++;
      let res: Response;
      const timeout = AbortSignal.timeout(this.o.timeoutMs);
      const sig = signal ? AbortSignal.any([signal, timeout]) : timeout;
      try {
        res = await fetch(url, { signal: sig, redirect: "follow" });
      } catch (e) {
        if (signal?.aborted) throw toGosymdError(e);
        lastError = timeout.aborted ? `timed out after ${this.o.timeoutMs} ms` : describe(e);
        continue;
      }
      if (res.status === 404 || (res.status >= 400 && res.status < 500 && res.status !== 429)) {
        await res.body?.cancel().catch(() => undefined);
        this.negative.set(key, "missing", { ttl: this.o.negativeTtlMs });
        m().sourceFetches.add(1, { source: "debuginfod", result: "missing" });
        return undefined;
      }
      if (res.status !== 200 || !res.body) {
        await res.body?.cancel().catch(() => undefined);
        lastError = `HTTP ${res.status}`;
        continue;
      }
      const announced = Number(res.headers.get("content-length") ?? "NaN");
      if (announced > this.o.maxBytes) {
        await res.body.cancel().catch(() => undefined);
        throw new GosymdError(
          "limit_exceeded",
          `${this.name} offers ${announced} bytes for ${key}; the limit is ${this.o.maxBytes}`,
        );
      }
      try {
        return await this.download(key, res, timeout);
      } catch (e) {
        const err = toGosymdError(e);
        if (signal?.aborted) throw err;
        // A body cut short by the network or the timeout is transient; a bad file is not.
        if (err.kind === "cancelled" || err.kind === "internal" || timeout.aborted) {
          lastError = timeout.aborted ? `timed out after ${this.o.timeoutMs} ms` : err.message;
          continue;
        }
        throw err;
      }
    }
    m().sourceFetches.add(1, { source: "debuginfod", result: "error" });
    this.negative.set(key, lastError, { ttl: this.o.failureTtlMs });
    throw new GosymdError(
      "unavailable",
      `${this.name} failed for ${key} after ${this.o.retries + 1} attempts: ${lastError}`,
    );
  }

  private async download(key: string, res: Response, timeout: AbortSignal): Promise<FoundBinary> {
    const w = await this.opts.store.writer(this.o.maxBytes);
    let done: { path: string; sha256: string; size: number };
    try {
      const reader = res.body!.getReader();
      for (;;) {
        const { done: end, value } = await reader.read();
        if (end) break;
        if (timeout.aborted) throw new GosymdError("cancelled", "download timed out");
        await w.write(value);
      }
      done = await w.finish();
    } catch (e) {
      await w.abort();
      throw e;
    }
    let decoded: { bin: GoBinary; segments: readonly Segment[] } | undefined;
    const r = await this.opts.store.ingest(
      done,
      (path) => {
        const d = this.opts.decode(path);
        const gnu = d.bin.info.buildIds.gnu?.toLowerCase();
        if (gnu !== key) {
          throw new GosymdError(
            "invalid_argument",
            `${this.name} returned a binary with GNU build ID ${gnu ?? "(none)"} for ${key}`,
          );
        }
        decoded = d;
        return d.bin;
      },
      { origin: this.name },
    );
    m().sourceFetches.add(1, { source: "debuginfod", result: "found" });
    return { id: r.meta.id, path: r.path, ...(decoded ? { decoded } : {}) };
  }
}

function describe(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  const c = err.cause;
  return c?.code ? `${c.code}${c.message ? ` (${c.message})` : ""}` : (err.message ?? String(e));
}

/** Upstream URLs from DEBUGINFOD_URLS (space-separated) plus explicit ones, deduplicated. */
export function debuginfodUrls(explicit: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = (env.DEBUGINFOD_URLS ?? "").split(/\s+/).filter((s) => s !== "");
  return [...new Set([...explicit, ...fromEnv].map((u) => u.replace(/\/+$/, "")))];
}
