/**
 * gosymd.v1.SymbolizerService: Symbolize, UploadBinary, GetBinaryInfo here; Attribute and
 * AttributeCore in attribute.ts; SymbolizeProfile in profile.ts.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { GosymdError, toGosymdError } from "../bytes/errors.js";
import { aliasKeys } from "../cache/aliases.js";
import type { BinaryCache, CachedBinary } from "../cache/binary-cache.js";
import {
  AddressKind,
  type GetBinaryInfoRequest,
  type GetBinaryInfoResponse,
  GetBinaryInfoResponseSchema,
  type Location,
  type SymbolizeBatch,
  type SymbolizeRequest,
  type SymbolizeResponse,
  SymbolizeResponseSchema,
  type SymbolizeResult,
  SymbolizeResultSchema,
  type SymbolizerService,
  type UploadBinaryRequest,
  type UploadBinaryResponse,
  UploadBinaryResponseSchema,
  type UploadMetadata,
} from "../gen/gosymd/v1/symbolizer_pb.js";
import type { LocalStore } from "../sources/store.js";
import type { Resolution } from "../symtab/types.js";
import { m } from "../telemetry/index.js";
import { createAttributeHandlers } from "./attribute.js";
import { loadBinaryRef } from "./binaries.js";
import { toBinaryInfo, toLocation } from "./convert.js";
import {
  encodeLocationBody,
  FRAMES_TAG,
  ProtoWriter,
  scratchBytes,
  writeBuildId,
  writeLocationRaw,
  writeLocationRef,
  writeStatus,
} from "./encode.js";
import { clientMessage, codeOf, toConnectError } from "./errors.js";
import type { ServiceLimits } from "./limits.js";
import { createProfileHandlers } from "./profile.js";

export interface SymbolizerDeps {
  cache: BinaryCache;
  store: LocalStore;
  limits: ServiceLimits;
  /** Called with what was stored by UploadBinary (for logs). */
  onUpload?: (info: { id: string; size: number; alreadyPresent: boolean; fileName: string }) => void;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const WIRE_LEN = 2;

/**
 * What Symbolize needs of its call, whichever transport carries it (connect's handler context, or
 * the direct gRPC path of grpc-unary.ts).
 */
export interface CallContext {
  /** Aborted on cancellation or at the deadline (reason named "TimeoutError" then). */
  readonly signal: AbortSignal;
  /** Whether the response is encoded as binary protobuf (gRPC, gRPC-Web, Connect proto). */
  readonly binary: boolean;
  /** Milliseconds left before the deadline, if there is one. */
  timeoutMs(): number | undefined;
}

/** Binary codecs (gRPC, gRPC-Web, Connect proto) get the hand-encoded fast path. */
function wantsBinary(ctx: HandlerContext): boolean {
  const ct = ctx.requestHeader.get("content-type");
  return ct !== null && !ct.includes("json");
}

/** A connect handler context as a CallContext. */
export function callContextOf(ctx: HandlerContext): CallContext {
  return { signal: ctx.signal, binary: wantsBinary(ctx), timeoutMs: () => ctx.timeoutMs() };
}

function deadlineError(ctx: CallContext): ConnectError {
  const r = ctx.signal.reason as { name?: string } | undefined;
  return r?.name === "TimeoutError" || (ctx.timeoutMs() ?? 1) <= 0
    ? new ConnectError("deadline exceeded while symbolizing", Code.DeadlineExceeded)
    : new ConnectError("request cancelled", Code.Canceled);
}

/** Maps one requested address to a link-time PC, or explains why it has none. */
export type AddressMapper = (address: bigint) => number | string;

/** pc−1 for return addresses (looked up at the call instruction, as the runtime does). */
function returnAdjust(ret: boolean): (v: number) => number {
  return ret ? (v) => (v > 0 ? v - 1 : v) : (v) => v;
}

/**
 * `addressMapper` for an address below 2^53 given as a number, so the hot loop does no bigint
 * arithmetic per address; undefined when the batch's kind needs the bigint path (file offsets, a
 * load base beyond 2^53). −1 where `addressMapper` would explain (ask it for the reason).
 */
export function numericMapper(batch: SymbolizeBatch): ((a: number) => number) | undefined {
  const adjust = returnAdjust(batch.returnAddresses);
  switch (batch.addressKind) {
    case AddressKind.RUNTIME: {
      if (batch.loadBase > MAX_SAFE) return undefined;
      const base = Number(batch.loadBase);
      return (a) => (a < base ? -1 : adjust(a - base));
    }
    case AddressKind.FILE_OFFSET:
      return undefined;
    default:
      return adjust;
  }
}

export function addressMapper(batch: SymbolizeBatch, entry: CachedBinary): AddressMapper {
  const adjust = returnAdjust(batch.returnAddresses);
  switch (batch.addressKind) {
    case AddressKind.RUNTIME: {
      const base = batch.loadBase;
      return (a) => {
        if (a < base) return `address 0x${a.toString(16)} is below the load base 0x${base.toString(16)}`;
        const d = a - base;
        if (d > MAX_SAFE) return `address 0x${a.toString(16)} minus the load base is beyond 2^53`;
        return adjust(Number(d));
      };
    }
    case AddressKind.FILE_OFFSET: {
      const segs = entry.segments.filter((s) => s.fileSize > 0);
      return (a) => {
        if (a > MAX_SAFE) return `file offset 0x${a.toString(16)} is beyond 2^53`;
        const off = Number(a);
        for (const s of segs) {
          if (off >= s.offset && off < s.offset + s.fileSize) return adjust(s.vaddr + (off - s.offset));
        }
        return segs.length === 0
          ? "the binary's segment table is not known, so file offsets cannot be mapped"
          : `file offset 0x${off.toString(16)} is not inside any loadable segment`;
      };
    }
    default:
      return (a) => {
        if (a > MAX_SAFE) return `address 0x${a.toString(16)} is beyond 2^53`;
        return adjust(Number(a));
      };
  }
}

function resolveSafe(entry: CachedBinary, pc: number): Resolution {
  try {
    return entry.bin.resolve(pc);
  } catch (e) {
    return { frames: [], reason: "corrupt_tables", detail: toGosymdError(e).message };
  }
}

interface BatchOutcome {
  entry?: CachedBinary;
  error?: GosymdError;
}

/**
 * The writer every binary-codec result is encoded in (then copied out at its exact size): results
 * are written synchronously, one at a time.
 */
const resultWriter = ProtoWriter.delimited();

/**
 * Symbolize itself, independent of the transport: throws ConnectErrors (and GosymdErrors from
 * below, which callers map with toConnectError).
 */
export function createSymbolize(
  deps: SymbolizerDeps,
): (req: SymbolizeRequest, ctx: CallContext) => Promise<SymbolizeResponse> {
  const { cache, limits } = deps;

  async function loadBatchBinary(batch: SymbolizeBatch, ctx: CallContext): Promise<BatchOutcome> {
    try {
      return {
        entry: await loadBinaryRef(
          batch.binary,
          deps,
          ctx,
          "batch has no binary: set binary.build_id or binary.contents",
        ),
      };
    } catch (e) {
      const err = toGosymdError(e);
      // Cancellation and deadlines fail the whole call; everything else only this batch.
      if (err.kind === "cancelled" || err.kind === "deadline_exceeded" || ctx.signal.aborted) throw err;
      return { error: err };
    }
  }

  return async function symbolize(req: SymbolizeRequest, ctx: CallContext): Promise<SymbolizeResponse> {
    if (req.batches.length > limits.maxBatchesPerRequest) {
      throw new ConnectError(
        `request has ${req.batches.length} batches; the limit is ${limits.maxBatchesPerRequest}`,
        Code.ResourceExhausted,
      );
    }
    let total = 0;
    for (const b of req.batches) total += b.addresses.length;
    if (total > limits.maxAddressesPerRequest) {
      throw new ConnectError(
        `request has ${total} addresses; the limit is ${limits.maxAddressesPerRequest} per request (split it)`,
        Code.ResourceExhausted,
      );
    }
    // Distinct binaries load concurrently (coalesced in the cache).
    const outcomes = await Promise.all(req.batches.map((b) => loadBatchBinary(b, ctx)));
    const binary = ctx.binary;
    const resp = create(SymbolizeResponseSchema);
    const unknown: { no: number; wireType: number; data: Uint8Array }[] = [];
    let resolved = 0;
    let unresolved = 0;
    let failed = 0;
    for (let i = 0; i < req.batches.length; i++) {
      const batch = req.batches[i]!;
      const out = outcomes[i]!;
      if (!out.entry) {
        const err = out.error!;
        failed += batch.addresses.length;
        const code = codeOf(err.kind);
        if (binary) {
          const w = ProtoWriter.delimited(256);
          writeStatus(w, code, clientMessage(err));
          unknown.push({ no: 1, wireType: WIRE_LEN, data: w.finishDelimited() });
        } else {
          resp.results.push(create(SymbolizeResultSchema, { status: { code, message: clientMessage(err) } }));
        }
        continue;
      }
      const entry = out.entry;
      const map = addressMapper(batch, entry);
      const addrs = batch.addresses;
      let w: ProtoWriter | undefined;
      let result: SymbolizeResult | undefined;
      const locs: Location[] = [];
      if (binary) {
        w = resultWriter.restartDelimited();
        writeStatus(w, 0, "");
      } else {
        result = create(SymbolizeResultSchema, { status: {}, buildId: entry.id });
      }
      const answers = entry.answers;
      const mapNum = numericMapper(batch);
      for (let j = 0; j < addrs.length; j++) {
        if ((j & 4095) === 4095 && ctx.signal.aborted) throw deadlineError(ctx);
        const a = addrs[j]!;
        // Below 2^53 (nearly always) the address maps with no bigint arithmetic.
        const an = Number(a);
        const small = an <= Number.MAX_SAFE_INTEGER;
        const num = mapNum !== undefined && small ? mapNum(an) : -1;
        const pc = num >= 0 ? num : map(a);
        if (w) {
          // Binary codecs: remembered encoded answers per PC; resolve + encode only on a miss.
          const ref = typeof pc === "number" ? answers.get(pc) : undefined;
          const address = small ? an : a;
          if (ref !== undefined) {
            if (answers.firstByte(ref) === FRAMES_TAG) resolved++;
            else unresolved++;
            writeLocationRef(w, address, answers, ref);
            continue;
          }
          const res: Resolution =
            typeof pc === "number"
              ? resolveSafe(entry, pc)
              : { frames: [], reason: "invalid_address", detail: pc };
          const len = encodeLocationBody(res);
          const body = scratchBytes();
          if (typeof pc === "number") cache.remember(entry, pc, body, len);
          if (res.frames.length > 0) resolved++;
          else unresolved++;
          writeLocationRaw(w, address, body, len);
          continue;
        }
        const res: Resolution =
          typeof pc === "number"
            ? resolveSafe(entry, pc)
            : { frames: [], reason: "invalid_address", detail: pc };
        if (res.frames.length > 0) resolved++;
        else unresolved++;
        locs.push(toLocation(a, res));
      }
      if (w) {
        writeBuildId(w, entry.id);
        // A copy of just the bytes written: the writer is reused by the next result.
        unknown.push({ no: 1, wireType: WIRE_LEN, data: w.finishDelimited().slice() });
      } else {
        result!.locations = locs;
        resp.results.push(result!);
      }
    }
    if (binary) resp.$unknown = unknown;
    m().addresses.add(resolved, { outcome: "resolved" });
    m().addresses.add(unresolved, { outcome: "unresolved" });
    if (failed > 0) m().addresses.add(failed, { outcome: "failed_batch" });
    return resp;
  };
}

export function createSymbolizerService(deps: SymbolizerDeps): ServiceImpl<typeof SymbolizerService> {
  const { cache, store, limits } = deps;
  const symbolize = createSymbolize(deps);

  async function uploadBinary(
    requests: AsyncIterable<UploadBinaryRequest>,
    ctx: HandlerContext,
  ): Promise<UploadBinaryResponse> {
    let meta: UploadMetadata | undefined;
    let first = true;
    const writer = await store.writer(limits.maxUploadBytes);
    try {
      for await (const r of requests) {
        if (first) {
          first = false;
          meta = r.metadata;
          if (meta && meta.size > BigInt(limits.maxUploadBytes)) {
            throw new GosymdError(
              "limit_exceeded",
              `binary of ${meta.size} bytes is larger than the upload limit of ${limits.maxUploadBytes} bytes`,
            );
          }
        } else if (r.metadata) {
          throw new GosymdError(
            "invalid_argument",
            "metadata is allowed only in the first message of an upload",
          );
        }
        if (r.chunk.length > 0) {
          await writer.write(r.chunk);
          m().uploadBytes.add(r.chunk.length);
        }
        if (ctx.signal.aborted) throw deadlineError(callContextOf(ctx));
      }
      if (first) throw new GosymdError("invalid_argument", "empty upload: no messages");
      const done = await writer.finish();
      if (meta && meta.size > 0n && BigInt(done.size) !== meta.size) {
        throw new GosymdError(
          "truncated",
          `upload ended after ${done.size} of the announced ${meta.size} bytes`,
          { format: "upload", offset: done.size, hint: "re-send the complete file" },
        );
      }
      if (done.size === 0) throw new GosymdError("invalid_argument", "empty upload: no bytes");
      if (meta?.sha256 && meta.sha256.toLowerCase() !== done.sha256) {
        throw new GosymdError(
          "invalid_argument",
          `upload's SHA-256 is ${done.sha256}, but the metadata announced ${meta.sha256}`,
        );
      }
      let segments: CachedBinary["segments"] = [];
      const r = await store.ingest(
        done,
        (path) => {
          const d = cache.decodeFile(path);
          segments = d.segments;
          return d.bin;
        },
        { origin: "upload", fileName: meta?.fileName },
      );
      if (r.bin) cache.insert(r.bin, segments);
      deps.onUpload?.({
        id: r.meta.id,
        size: done.size,
        alreadyPresent: r.alreadyPresent,
        fileName: meta?.fileName ?? "",
      });
      return create(UploadBinaryResponseSchema, {
        info: toBinaryInfo(r.meta.info),
        alreadyPresent: r.alreadyPresent,
      });
    } catch (e) {
      // Removes the temp file whatever state the upload was in (ingest consumed it already).
      await writer.abort();
      throw toConnectError(e);
    }
  }

  async function getBinaryInfo(
    req: GetBinaryInfoRequest,
    ctx: HandlerContext,
  ): Promise<GetBinaryInfoResponse> {
    try {
      const keys = aliasKeys(req.buildId);
      const hit = cache.peek(keys);
      if (hit) return create(GetBinaryInfoResponseSchema, { info: toBinaryInfo(hit.bin.info) });
      const meta = await store.metaFor(keys);
      if (meta) return create(GetBinaryInfoResponseSchema, { info: toBinaryInfo(meta.info) });
      if (!req.fetchRemote) {
        throw new GosymdError("not_found", `unknown build ID ${req.buildId}; tried: cache, store`, {
          hint: "upload it, or set fetch_remote to also ask debuginfod",
        });
      }
      const e = await cache.get(req.buildId, { signal: ctx.signal, remote: true });
      return create(GetBinaryInfoResponseSchema, { info: toBinaryInfo(e.bin.info) });
    } catch (e) {
      throw toConnectError(e);
    }
  }

  return {
    async symbolize(req, ctx) {
      try {
        return await symbolize(req, callContextOf(ctx));
      } catch (e) {
        throw toConnectError(e);
      }
    },
    uploadBinary,
    getBinaryInfo,
    ...createAttributeHandlers(deps),
    ...createProfileHandlers(deps),
  };
}
