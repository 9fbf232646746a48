/**
 * The direct gRPC path for the hot unary call, gosymd.v1.SymbolizerService/Symbolize over HTTP/2
 * with the binary protobuf codec and no message compression: the request is read from the
 * stream, decoded, answered by the same Symbolize as connect's handler (createSymbolize) and
 * written back as one length-prefixed message plus trailers. Everything else — other methods,
 * gRPC-Web, the Connect protocol, JSON, compressed messages, HTTP/1.1 — goes to connect-node.
 *
 * Why: connect-node's generic handler (a pipeline of async generators, an AbortController and a
 * DOMException per call, header objects converted both ways) costs ~1 ms of server CPU per
 * call and leaves garbage that survives minor GCs, which is what 100-address requests paid and
 * what their p99 latency waited on (measured: `npm run bench -- rpc`). The wire protocol of a
 * unary gRPC call is small enough to speak directly (grpc/doc/PROTOCOL-HTTP2.md): request
 * headers with `content-type: application/grpc[+proto]` and an optional `grpc-timeout`, one
 * message framed as [flag byte][uint32 big-endian length][bytes], a response with one framed
 * message and `grpc-status`/`grpc-message` trailers (or headers alone, "trailers-only", on error).
 *
 * It works on HTTP/2 streams as Node hands them to the server, before its compatibility layer
 * would wrap them in request/response objects (server.ts, interceptStreams): those objects, and
 * what they hold, outlived minor GCs with every call — at 4,600 calls/s they were most of what
 * each call left for the major GC, whose pauses made the p99.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { parseTimeout } from "@connectrpc/connect/protocol-grpc";
import type { Logger } from "pino";
import {
  SymbolizeRequestSchema,
  type SymbolizeResponse,
  SymbolizeResponseSchema,
  SymbolizerService,
} from "../gen/gosymd/v1/symbolizer_pb.js";
import { toConnectError } from "./errors.js";
import { observeRpc } from "./routes.js";
import type { CallContext, createSymbolize } from "./symbolizer.js";

const PATH = `/${SymbolizerService.typeName}/${SymbolizerService.method.symbolize.name}`;
const SERVICE = SymbolizerService.typeName;
const METHOD = SymbolizerService.method.symbolize.name;

/** Largest deadline honoured (gRPC's grpc-timeout allows 8 digits of hours). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export interface GrpcUnaryOptions {
  symbolize: ReturnType<typeof createSymbolize>;
  /** Largest request message accepted (as connect's readMaxBytes). */
  readMaxBytes: number;
  logger?: Logger;
}

/**
 * What the path needs of an HTTP/2 stream: node:http2's ServerHttp2Stream (TLS connections) and
 * the server's own HTTP/2 streams (src/h2, cleartext) both are one.
 */
export interface UnaryStream {
  readonly destroyed: boolean;
  readonly headersSent: boolean;
  on(event: "data", listener: (chunk: Buffer) => void): unknown;
  on(event: "error", listener: (e: Error) => void): unknown;
  once(event: "close" | "end" | "wantTrailers", listener: () => void): unknown;
  respond(
    headers: Record<string, string | number>,
    options?: { endStream?: boolean; waitForTrailers?: boolean },
  ): void;
  sendTrailers(trailers: Record<string, string>): void;
  end(data?: Uint8Array): void;
}

/** Request headers as either kind of stream gives them. */
export type StreamHeaders = Record<string, string | string[] | undefined>;

/** Serves an HTTP/2 stream if it is a call this path takes; false (nothing read) otherwise. */
export type DirectStreamHandler = (stream: UnaryStream, headers: StreamHeaders) => boolean;

/**
 * The direct path, at the level of HTTP/2 streams: the server hands it each new stream before
 * Node's compatibility layer would wrap it in request/response objects (see listen() in
 * server.ts), and everything it declines goes on to connect-node unchanged.
 */
export function grpcUnaryDirect(opts: GrpcUnaryOptions): DirectStreamHandler {
  return (stream, h) => {
    if (h[":method"] !== "POST" || h[":path"] !== PATH) return false;
    const ct = h["content-type"];
    if (ct !== "application/grpc" && ct !== "application/grpc+proto") return false;
    const enc = h["grpc-encoding"];
    if (enc !== undefined && enc !== "identity") return false;
    serve(stream, h, opts);
    return true;
  };
}

/**
 * grpc-timeout in ms (connect's own parser, as its handler uses), capped to what a timer can wait;
 * an Error when malformed.
 */
export function parseGrpcTimeout(v: string | string[] | undefined): number | undefined | Error {
  if (v === undefined) return undefined;
  if (typeof v !== "string") return new Error(`grpc-timeout given ${v.length} times`);
  const r = parseTimeout(v, Number.MAX_SAFE_INTEGER);
  return r.error ?? Math.min(MAX_TIMEOUT_MS, r.timeoutMs!);
}

function serve(stream: UnaryStream, headers: StreamHeaders, opts: GrpcUnaryOptions): void {
  const timeoutHeader = headers["grpc-timeout"];
  // The call's abort signal is made only when something asks for it (a cache miss, a batch long
  // enough to check it, an error path): warm calls never do. An AbortController per call was half
  // of what each call left for the major GC to collect — signals outlive the minor GCs — and
  // major GC pauses were the tail of the latency (measured: the sampling heap profiler at 4,600
  // 100-address requests/s, `npm run bench -- rpc`).
  let ac: AbortController | undefined;
  let abortReason: unknown;
  const abort = (reason: unknown): void => {
    if (abortReason !== undefined) return;
    abortReason = reason;
    ac?.abort(reason);
  };
  let timer: NodeJS.Timeout | undefined;
  let deadline: number | undefined;
  let done = false;
  const timeout = parseGrpcTimeout(timeoutHeader);
  const finish = (): void => {
    done = true;
    if (timer !== undefined) clearTimeout(timer);
  };
  // A stream error (the client reset it, the session failed) ends in "close" below; without a
  // listener it would be thrown.
  stream.on("error", ignore);
  // The client went away (RST_STREAM, connection lost): stop working on its answer.
  stream.once("close", () => {
    if (!done) {
      finish();
      abort(new ConnectError("request cancelled", Code.Canceled));
    }
  });
  if (timeout instanceof Error) {
    respondError(stream, ConnectError.from(timeout, Code.InvalidArgument));
    finish();
    return;
  }
  if (timeout !== undefined) {
    deadline = performance.now() + timeout;
    timer = setTimeout(() => {
      const e = new Error("deadline exceeded");
      e.name = "TimeoutError";
      abort(e);
    }, timeout);
  }
  const ctx: CallContext = {
    get signal() {
      if (ac === undefined) {
        ac = new AbortController();
        if (abortReason !== undefined) ac.abort(abortReason);
      }
      return ac.signal;
    },
    binary: true,
    timeoutMs: () => (deadline === undefined ? undefined : deadline - performance.now()),
  };

  const chunks: Buffer[] = [];
  let size = 0;
  let failed = false;
  stream.on("data", (c: Buffer) => {
    if (failed) return;
    size += c.length;
    // The envelope adds 5 bytes to the message.
    if (size > opts.readMaxBytes + 5) {
      failed = true;
      finish();
      respondError(
        stream,
        new ConnectError(
          `message size is larger than configured readMaxBytes ${opts.readMaxBytes}`,
          Code.ResourceExhausted,
        ),
      );
      return;
    }
    chunks.push(c);
  });
  stream.once("end", () => {
    if (failed || done) return;
    void observeRpc(SERVICE, METHOD, opts.logger, async () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      const msg = unwrap(body);
      let req: ReturnType<typeof fromBinary<typeof SymbolizeRequestSchema>>;
      try {
        req = fromBinary(SymbolizeRequestSchema, msg);
      } catch (e) {
        throw new ConnectError(`cannot decode the request: ${(e as Error).message}`, Code.InvalidArgument);
      }
      const resp = await opts.symbolize(req, ctx);
      if (done) return;
      const out = framedResponse(resp);
      finish();
      chunks.length = 0;
      if (stream.destroyed || stream.headersSent) return;
      stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(out);
    }).catch((e: unknown) => {
      finish();
      if (!stream.destroyed && !stream.headersSent) respondError(stream, toConnectError(e));
    });
  });
}

/**
 * The response as one gRPC frame. Symbolize's binary answers are pre-encoded results held as
 * unknown fields (field 1, length-delimited, their data starting with the length); they are
 * copied once into the frame instead of going through a protobuf writer that grows and copies.
 */
function framedResponse(resp: SymbolizeResponse): Buffer {
  const unknown = resp.$unknown;
  if (
    resp.results.length > 0 ||
    unknown === undefined ||
    unknown.some((u) => u.no !== 1 || u.wireType !== 2)
  ) {
    const msg = toBinary(SymbolizeResponseSchema, resp);
    const out = Buffer.allocUnsafe(5 + msg.length);
    out[0] = 0;
    out.writeUInt32BE(msg.length, 1);
    out.set(msg, 5);
    return out;
  }
  let len = 0;
  for (const u of unknown) len += 1 + u.data.length;
  const out = Buffer.allocUnsafe(5 + len);
  out[0] = 0;
  out.writeUInt32BE(len, 1);
  let p = 5;
  for (const u of unknown) {
    out[p++] = 0x0a; // field 1, wire type 2
    out.set(u.data, p);
    p += u.data.length;
  }
  return out;
}

/** The message inside a unary request body (one uncompressed length-prefixed message). */
function unwrap(body: Buffer): Uint8Array {
  if (body.length < 5) {
    throw new ConnectError("request has no complete gRPC message", Code.InvalidArgument);
  }
  if (body[0] !== 0) {
    // Bit 0 set: a compressed message, but grpc-encoding said identity (or nothing).
    throw new ConnectError(
      "request message is flagged compressed without a grpc-encoding",
      body[0] === 1 ? Code.Internal : Code.InvalidArgument,
    );
  }
  const len = body.readUInt32BE(1);
  if (5 + len !== body.length) {
    throw new ConnectError(
      5 + len > body.length
        ? "request ends inside its gRPC message"
        : "a unary request carries more than one gRPC message",
      Code.InvalidArgument,
    );
  }
  return body.subarray(5);
}

function ignore(): void {}

/** A trailers-only error response. */
function respondError(stream: UnaryStream, e: ConnectError): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond(
    {
      ":status": 200,
      "content-type": "application/grpc+proto",
      "grpc-status": String(e.code),
      "grpc-message": percentEncode(e.rawMessage),
    },
    { endStream: true },
  );
}

/** grpc-message: UTF-8, with bytes outside printable ASCII and '%' percent-encoded. */
export function percentEncode(s: string): string {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    out +=
      b >= 0x20 && b <= 0x7e && b !== 0x25
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
