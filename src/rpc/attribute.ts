/**
 * Attribute and AttributeCore: crash text, a crash reporter's raw PCs, or a streamed core dump in;
 * the crash engine's attribution (src/crash, src/core) out as AttributeResponse.
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, open, unlink } from "node:fs/promises";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { GosymdError } from "../bytes/errors.js";
import { type ByteSource, FileSource } from "../bytes/source.js";
import type { CachedBinary } from "../cache/binary-cache.js";
import { attributeCoreSource } from "../core/index.js";
import { type AttributeOptions, attributeGoroutines, attributeText } from "../crash/attribute.js";
import type { AttributeResult } from "../crash/types.js";
import {
  type AttributeCoreRequest,
  type AttributeCoreResponse,
  AttributeCoreResponseSchema,
  type AttributeRequest,
  type AttributeResponse,
  CoreInfoSchema,
} from "../gen/gosymd/v1/attribute_pb.js";
import type { BinaryRef } from "../gen/gosymd/v1/binary_pb.js";
import { m } from "../telemetry/index.js";
import { type BinaryDeps, binaryBytes, loadBinaryRef } from "./binaries.js";
import { buildInfoContext } from "./context.js";
import { fromAttributeOptions, toAttributeResponse, u32, u64 } from "./crash-convert.js";
import { toConnectError } from "./errors.js";
import { symbolizeRawCrash } from "./raw.js";

/** Engine options: the request's, completed from the binary's build info (the request wins). */
function optionsFor(req: { options?: AttributeRequest["options"] }, entry: CachedBinary | undefined) {
  const opts: AttributeOptions = fromAttributeOptions(req.options);
  if (entry) {
    const ctx = buildInfoContext(entry.bin.info);
    if (opts.mainModule === undefined && ctx.mainModule !== undefined) opts.mainModule = ctx.mainModule;
    if (ctx.modules !== undefined) opts.modules = ctx.modules;
    if (ctx.vcsRevision !== undefined) opts.vcsRevision = ctx.vcsRevision;
  }
  return opts;
}

function checkAborted(ctx: HandlerContext): void {
  if (!ctx.signal.aborted) return;
  const r = ctx.signal.reason as { name?: string } | undefined;
  throw r?.name === "TimeoutError" || (ctx.timeoutMs() ?? 1) <= 0
    ? new ConnectError("deadline exceeded", Code.DeadlineExceeded)
    : new ConnectError("request cancelled", Code.Canceled);
}

export function createAttributeHandlers(deps: BinaryDeps) {
  const { limits, store } = deps;
  let coresInFlight = 0;

  async function attribute(req: AttributeRequest, ctx: HandlerContext): Promise<AttributeResponse> {
    const input = req.input;
    if (input.case === undefined) {
      throw new GosymdError("invalid_argument", "no input: set text or raw", { field: "input" });
    }
    if (input.case === "raw") {
      if (!req.binary?.ref.case) {
        throw new GosymdError("invalid_argument", "raw PCs need the binary to symbolize them: set binary", {
          field: "binary",
        });
      }
      const gs = input.value.goroutines;
      if (gs.length > limits.maxRawGoroutines) {
        throw new GosymdError(
          "limit_exceeded",
          `raw crash has ${gs.length} goroutines; the limit is ${limits.maxRawGoroutines}`,
        );
      }
      let pcs = 0;
      for (const g of gs) pcs += g.pcs.length + (g.createdByPc !== 0n ? 1 : 0);
      if (pcs > limits.maxAddressesPerRequest) {
        throw new GosymdError(
          "limit_exceeded",
          `raw crash has ${pcs} PCs; the limit is ${limits.maxAddressesPerRequest} per request`,
        );
      }
    }
    // Options first: malformed rules fail before any binary is fetched.
    fromAttributeOptions(req.options);
    const entry = req.binary?.ref.case ? await loadBinaryRef(req.binary, deps, ctx) : undefined;
    checkAborted(ctx);
    const opts = optionsFor(req, entry);
    let result: AttributeResult;
    if (input.case === "text") {
      result = attributeText(input.value, opts);
    } else {
      const raw = symbolizeRawCrash(input.value, entry!);
      m().addresses.add(raw.resolved, { outcome: "resolved" });
      m().addresses.add(raw.pcs - raw.resolved, { outcome: "unresolved" });
      const a = attributeGoroutines(raw.goroutines, raw.header, opts);
      result = {
        ...a,
        primaryIndex: 0,
        crashes: [a],
        diagnostics: raw.problems.map((reason) => ({ line: 0, reason, excerpt: "" })),
        diagnosticsDropped: Math.max(0, raw.pcs - raw.resolved - raw.problems.length),
        stats: {
          inputBytes: 0,
          lines: 0,
          inputTruncated: false,
          longLines: 0,
          prefixesStripped: 0,
          unescapedLines: 0,
        },
      };
    }
    return toAttributeResponse(result, entry?.id ?? "");
  }

  /** Spools the core to a temp file under the store's tmp/ (removed stale at startup too). */
  async function attributeCore(
    requests: AsyncIterable<AttributeCoreRequest>,
    ctx: HandlerContext,
  ): Promise<AttributeCoreResponse> {
    if (coresInFlight >= limits.maxConcurrentCores) {
      throw new GosymdError(
        "limit_exceeded",
        `${coresInFlight} cores are being attributed; the server takes at most ${limits.maxConcurrentCores} at once`,
        { hint: "retry later" },
      );
    }
    coresInFlight++;
    try {
      return await spoolAndAttribute(requests, ctx);
    } finally {
      coresInFlight--;
    }
  }

  async function spoolAndAttribute(
    requests: AsyncIterable<AttributeCoreRequest>,
    ctx: HandlerContext,
  ): Promise<AttributeCoreResponse> {
    const path = join(store.dir, "tmp", `core-${process.pid}-${randomBytes(8).toString("hex")}`);
    let fh: FileHandle | undefined;
    let size = 0;
    let first: AttributeCoreRequest | undefined;
    try {
      fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      for await (const r of requests) {
        if (first === undefined) {
          first = r;
          if (!r.binary?.ref.case) {
            throw new GosymdError(
              "invalid_argument",
              "the first message must name the binary that dumped core (binary.build_id or binary.contents)",
              { field: "binary" },
            );
          }
          fromAttributeOptions(r.options);
          if (r.coreSize > BigInt(limits.maxCoreBytes)) {
            throw new GosymdError(
              "limit_exceeded",
              `core of ${r.coreSize} bytes is larger than the server's limit of ${limits.maxCoreBytes} bytes (--max-core-bytes)`,
            );
          }
        } else if (r.binary || r.options || r.coreSize !== 0n) {
          throw new GosymdError(
            "invalid_argument",
            "binary, options and core_size are allowed only in the first message",
          );
        }
        const chunk = r.chunk;
        if (chunk.length > 0) {
          if (size + chunk.length > limits.maxCoreBytes) {
            throw new GosymdError(
              "limit_exceeded",
              `core is larger than the server's limit of ${limits.maxCoreBytes} bytes (--max-core-bytes)`,
            );
          }
          let off = 0;
          while (off < chunk.length) {
            const { bytesWritten } = await fh.write(chunk, off, chunk.length - off, size + off);
            off += bytesWritten;
          }
          size += chunk.length;
        }
        checkAborted(ctx);
      }
      await fh.close();
      fh = undefined;
      if (first === undefined) throw new GosymdError("invalid_argument", "empty stream: no messages");
      if (size === 0) throw new GosymdError("invalid_argument", "no core bytes were sent");
      if (first.coreSize !== 0n && BigInt(size) !== first.coreSize) {
        throw new GosymdError(
          "truncated",
          `the stream ended after ${size} of the announced ${first.coreSize} core bytes`,
          { format: "core", offset: size, hint: "re-send the complete core" },
        );
      }
      const ref = first.binary as BinaryRef;
      const entry = await loadBinaryRef(ref, deps, ctx);
      checkAborted(ctx);
      const opts = optionsFor(first, entry);
      let exe: ByteSource | undefined;
      const core = new FileSource(path);
      try {
        exe = await binaryBytes(ref, entry, store);
        const a = attributeCoreSource(core, exe, {
          ...opts,
          useBuildInfo: false,
          core: { binary: entry.bin },
        });
        const r = a.core;
        const info = create(CoreInfoSchema, {
          arch: r.arch,
          goVersion: r.goVersion,
          pid: u32(r.pid ?? 0),
          command: r.command ?? "",
          bias: u64(r.bias),
          buildIdCheck: r.buildIdCheck,
          fatalSignal: r.fatalSignal?.name ?? "",
          threads: u32(r.threads.length),
          goroutines: u32(r.goroutines.length),
          discovery: r.discovery,
          partial: r.partial,
        });
        return create(AttributeCoreResponseSchema, {
          attribution: toAttributeResponse(a, entry.id),
          core: info,
        });
      } finally {
        core.close();
        exe?.close();
      }
    } finally {
      await fh?.close().catch(() => undefined);
      await unlink(path).catch(() => undefined);
    }
  }

  return {
    async attribute(req: AttributeRequest, ctx: HandlerContext): Promise<AttributeResponse> {
      try {
        return await attribute(req, ctx);
      } catch (e) {
        throw toConnectError(e);
      }
    },
    async attributeCore(
      requests: AsyncIterable<AttributeCoreRequest>,
      ctx: HandlerContext,
    ): Promise<AttributeCoreResponse> {
      try {
        return await attributeCore(requests, ctx);
      } catch (e) {
        throw toConnectError(e);
      }
    },
  };
}
