/**
 * The gosymd server: gRPC, gRPC-Web and Connect (connect-node's handlers) on one port.
 *
 * - Cleartext: one port speaks h2c (prior knowledge, as gRPC clients do) and HTTP/1.1 (curl,
 *   browsers' gRPC-Web, Connect JSON): the first bytes of a connection pick the protocol. h2c
 *   connections are served by src/h2 (our HTTP/2), whose streams go to the direct gRPC path
 *   or connect's handlers; GOSYMD_NODE_HTTP2=1 hands them to node:http2 instead.
 * - TLS: ALPN picks h2 or http/1.1; mTLS when a client CA is given (client certificates required).
 * - Graceful shutdown: health goes NOT_SERVING, the listener closes, HTTP/2 sessions get GOAWAY and
 *   in-flight calls finish (up to a grace period), then remaining connections are destroyed.
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import { BinaryCache } from "./cache/binary-cache.js";
import { connectStreamHandler } from "./h2/connect.js";
import { type H2Headers, H2Session, type H2Stream } from "./h2/session.js";
import { type DirectStreamHandler, grpcUnaryDirect } from "./rpc/grpc-unary.js";
import { HealthState, ServingStatus } from "./rpc/health.js";
import { DEFAULT_LIMITS, type ServiceLimits } from "./rpc/limits.js";
import { registerRoutes, SERVICE_NAMES, telemetryInterceptor } from "./rpc/routes.js";
import { createSymbolize } from "./rpc/symbolizer.js";
import { DebuginfodSource } from "./sources/debuginfod.js";
import { LocalStore } from "./sources/store.js";
import type { BinarySource } from "./sources/types.js";

export interface TlsConfig {
  cert: string | Buffer;
  key: string | Buffer;
  /** CA bundle for client certificates: when set, clients must present a certificate it signed (mTLS). */
  clientCa?: string | Buffer;
}

export interface ListenConfig {
  host?: string;
  port: number;
  tls?: TlsConfig;
}

type Handler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export interface Listener {
  /** Whether HTTP/2 streams reach the direct handler before Node's compatibility layer. */
  readonly directActive: boolean;
  readonly port: number;
  readonly host: string;
  readonly url: string;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then closes the rest. */
  close(graceMs?: number): Promise<void>;
}

/** HTTP/2 stream and connection receive window. */
const H2_WINDOW = 16 * 1024 * 1024;
const H2_SETTINGS: http2.Settings = { initialWindowSize: 4 * 1024 * 1024 };

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * Gives `direct` each new HTTP/2 stream before Node's compatibility layer does. That layer (what
 * runs a (req, res) handler for HTTP/2) is itself a "stream" listener, added with the "request"
 * listener; it is taken off and called only for the streams `direct` declines, so those it
 * serves never get request/response objects. False, leaving the server as it was, if the layer
 * is not the one "stream" listener (a Node that does this differently).
 */
export function interceptStreams(
  h2: http2.Http2Server | http2.Http2SecureServer,
  direct: DirectStreamHandler,
): boolean {
  const listeners = h2.listeners("stream");
  const compat = listeners[0];
  if (listeners.length !== 1 || typeof compat !== "function") return false;
  h2.removeListener("stream", compat as never);
  h2.on(
    "stream",
    (
      stream: http2.ServerHttp2Stream,
      headers: http2.IncomingHttpHeaders,
      flags: number,
      rawHeaders: string[],
    ) => {
      if (!direct(stream, headers)) compat.call(h2, stream, headers, flags, rawHeaders);
    },
  );
  return true;
}

/**
 * Listens with `handler` on one port; see the module comment. HTTP/2 streams go to `direct` first
 * when given (see interceptStreams); `directActive` in the result says whether that is in place.
 */
export async function listen(
  handler: Handler,
  cfg: ListenConfig,
  direct?: DirectStreamHandler,
  /**
   * Serves cleartext HTTP/2 connections on the server's own HTTP/2 implementation (src/h2)
   * instead of node:http2: each stream goes to `direct`, then, if it declines, to this.
   */
  h2Streams?: (stream: H2Stream, headers: H2Headers) => void,
  /** A stream handler threw (its stream was reset). */
  onHandlerError?: (e: unknown) => void,
): Promise<Listener> {
  const host = cfg.host ?? "127.0.0.1";
  const sessions = new Set<{ close(): void; destroy(): void }>();
  const sockets = new Set<net.Socket>();
  let outer: net.Server;
  let h1: http.Server | undefined;
  let h2: http2.Http2Server | http2.Http2SecureServer;
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
    // No Nagle: a response's last small frames (gRPC trailers) must not wait for the client's
    // delayed ACK of the data before them (what Node's own HTTP servers default to as well).
    s.setNoDelay(true);
  };
  if (cfg.tls) {
    const secure = http2.createSecureServer(
      {
        cert: cfg.tls.cert,
        key: cfg.tls.key,
        allowHTTP1: true,
        settings: H2_SETTINGS,
        ...(cfg.tls.clientCa ? { ca: cfg.tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
      },
      handler as never,
    );
    secure.on("secureConnection", track);
    h2 = secure;
    outer = secure;
  } else {
    h2 = http2.createServer({ settings: H2_SETTINGS }, handler as never);
    h1 = http.createServer(handler as never);
    h1.keepAliveTimeout = 65_000;
    const h1s = h1;
    const h2s = h2;
    outer = net.createServer((socket) => {
      track(socket);
      socket.once("error", () => socket.destroy());
      // A connection that never says anything is closed (the HTTP servers time out the rest).
      socket.setTimeout(30_000, () => socket.destroy());
      // Pick the protocol from the first bytes: the HTTP/2 preface, or anything else = HTTP/1.
      socket.once("data", (buf: Buffer) => {
        socket.setTimeout(0);
        socket.pause();
        socket.unshift(buf);
        const n = Math.min(buf.length, H2_PREFACE.length);
        if (buf.subarray(0, n).equals(H2_PREFACE.subarray(0, n)) && n >= 3) {
          if (h2Streams !== undefined) {
            const session = new H2Session(socket, {
              onStream: (stream, headers) => {
                if (direct === undefined || !direct(stream, headers)) h2Streams(stream, headers);
              },
              streamWindow: H2_SETTINGS.initialWindowSize!,
              connectionWindow: H2_WINDOW,
              onHandlerError: (e) => onHandlerError?.(e),
            });
            sessions.add(session);
            session.once("close", () => sessions.delete(session));
            socket.resume();
            return;
          }
          // The http2 session reads what is buffered on the socket itself.
          h2s.emit("connection", socket);
        } else {
          h1s.emit("connection", socket);
          socket.resume();
        }
      });
    });
  }
  const directActive = direct !== undefined && interceptStreams(h2, direct);
  h2.on("session", (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    // Large connection window: uploads stream megabytes; 64 KiB would cost a round trip each.
    try {
      s.setLocalWindowSize(H2_WINDOW);
    } catch {
      // session already closing
    }
    s.once("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    outer.once("error", reject);
    outer.listen(cfg.port, host, () => {
      outer.off("error", reject);
      resolve();
    });
  });
  const addr = outer.address() as net.AddressInfo;
  const scheme = cfg.tls ? "https" : "http";
  const urlHost = addr.address.includes(":") ? `[${addr.address}]` : addr.address;
  let closing: Promise<void> | undefined;
  return {
    directActive,
    port: addr.port,
    host: addr.address,
    url: `${scheme}://${urlHost}:${addr.port}`,
    close(graceMs = 10_000) {
      closing ??= new Promise<void>((resolve) => {
        const closed = new Promise<void>((r) => outer.close(() => r()));
        for (const s of sessions) s.close();
        h1?.closeIdleConnections();
        const timer = setTimeout(() => {
          for (const s of sessions) s.destroy();
          for (const s of sockets) s.destroy();
          h1?.closeAllConnections();
        }, graceMs);
        timer.unref();
        // Idle HTTP/1 keep-alive sockets close at once; busy ones after their response.
        const poll = setInterval(() => h1?.closeIdleConnections(), 100);
        poll.unref();
        void closed.then(() => {
          clearTimeout(timer);
          clearInterval(poll);
          resolve();
        });
      });
      return closing;
    },
  };
}

export interface GosymdConfig {
  host?: string;
  port: number;
  /** Local store directory (created). */
  storeDir: string;
  /** Cache budget in bytes of decoded tables. */
  cacheBytes: number;
  /** debuginfod servers, tried in order after the local store. */
  debuginfodUrls?: string[];
  debuginfod?: { timeoutMs?: number; maxBytes?: number; retries?: number; negativeTtlMs?: number };
  tls?: TlsConfig;
  limits?: Partial<ServiceLimits>;
  logger?: Logger;
  /** Compress large responses when the client accepts gzip/br (default false: CPU over bytes). */
  compressResponses?: boolean;
  /** Serve cleartext HTTP/2 with node:http2 rather than src/h2 (GOSYMD_NODE_HTTP2=1 in `serve`). */
  nodeHttp2?: boolean;
  /** Extra sources after the built-in ones (pluggable). */
  extraSources?: BinarySource[];
  /** Substitute decoder (tests). */
  decoder?: ConstructorParameters<typeof BinaryCache>[0]["decoder"];
}

export interface Gosymd {
  readonly listener: Listener;
  readonly url: string;
  readonly port: number;
  readonly cache: BinaryCache;
  readonly store: LocalStore;
  readonly health: HealthState;
  readonly sources: readonly BinarySource[];
  /** Graceful shutdown: NOT_SERVING, stop accepting, drain for up to graceMs. */
  close(graceMs?: number): Promise<void>;
}

/** The routes for a store/cache pair (also what in-memory tests use). */
export function gosymdRoutes(deps: Parameters<typeof registerRoutes>[1]): (router: ConnectRouter) => void {
  return (router) => registerRoutes(router, deps);
}

/** Builds the whole service (store, sources, cache, routes) and starts listening. */
export async function startGosymd(cfg: GosymdConfig): Promise<Gosymd> {
  const limits: ServiceLimits = { ...DEFAULT_LIMITS, ...cfg.limits };
  const store = await LocalStore.open(cfg.storeDir);
  const sources: BinarySource[] = [store];
  // The cache is built first so that debuginfod verifies downloads with the same decoder.
  const cache = new BinaryCache({
    maxBytes: cfg.cacheBytes,
    sources,
    ...(cfg.decoder ? { decoder: cfg.decoder } : {}),
  });
  for (const url of cfg.debuginfodUrls ?? []) {
    sources.push(
      new DebuginfodSource({
        url,
        store,
        decode: (path) => cache.decodeFile(path),
        ...cfg.debuginfod,
      }),
    );
  }
  sources.push(...(cfg.extraSources ?? []));
  const health = new HealthState(SERVICE_NAMES);
  const logger = cfg.logger;
  // One router: its handlers serve Node's HTTP servers (HTTP/1.1, TLS) through connect-node's
  // adapter and cleartext HTTP/2 through src/h2.
  let router: ConnectRouter | undefined;
  const routes = gosymdRoutes({
    cache,
    store,
    limits,
    health,
    ...(logger
      ? {
          onUpload: (u) =>
            logger.info(
              { id: u.id, size: u.size, alreadyPresent: u.alreadyPresent, file: u.fileName },
              "upload",
            ),
        }
      : {}),
  });
  const connectHandler = connectNodeAdapter({
    routes: (r) => {
      routes(r);
      router = r;
    },
    readMaxBytes: limits.readMaxBytes,
    // Compressed requests are accepted, but responses are not compressed: symbolization answers
    // are large, gzip of a 2.5 MB response costs more CPU than the service's own work, and
    // clients are usually near (same cluster). See GosymdConfig.compressResponses.
    compressMinBytes: cfg.compressResponses ? 64 * 1024 : Number.MAX_SAFE_INTEGER,
    interceptors: [telemetryInterceptor(logger)],
  });
  // Unary gRPC Symbolize calls over HTTP/2 take the direct path (see grpc-unary.ts); the rest go
  // to connect.
  const direct = grpcUnaryDirect({
    symbolize: createSymbolize({ cache, store, limits }),
    readMaxBytes: limits.readMaxBytes,
    ...(logger ? { logger } : {}),
  });
  const h2Streams =
    router === undefined || cfg.nodeHttp2 === true
      ? undefined
      : connectStreamHandler(router.handlers, (e, h) =>
          logger?.error({ err: e, rpc: `${h.service.typeName}/${h.method.name}` }, "handler failed"),
        );
  const listener = await listen(
    connectHandler as Handler,
    {
      port: cfg.port,
      ...(cfg.host ? { host: cfg.host } : {}),
      ...(cfg.tls ? { tls: cfg.tls } : {}),
    },
    direct,
    h2Streams,
    (e) => logger?.error({ err: e }, "HTTP/2 stream handler failed"),
  );
  if (!listener.directActive)
    logger?.warn(
      "this Node's HTTP/2 server could not be given the direct gRPC path; connect serves every call",
    );
  return {
    listener,
    url: listener.url,
    port: listener.port,
    cache,
    store,
    health,
    sources,
    async close(graceMs = 10_000) {
      health.setAll(ServingStatus.NOT_SERVING);
      await listener.close(graceMs);
      cache.clear();
    },
  };
}
