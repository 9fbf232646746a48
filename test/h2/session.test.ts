/**
 * H2Session (src/h2/session.ts), the server side of HTTP/2 (RFC 9113): conformance against an
 * independent client (node:http2, i.e. nghttp2) — bodies both ways, flow control with small
 * windows, trailers, concurrency limits, cancellation, graceful GOAWAY, CONTINUATION — and
 * hostile input from a raw socket speaking hand-built frames, where each violation must get the
 * exact GOAWAY or RST_STREAM code, floods must be cut off, and a seeded fuzz loop of mutated
 * frame sequences must never throw out of the session.
 */

import assert from "node:assert/strict";
import { EventEmitter, once } from "node:events";
import http2 from "node:http2";
import net from "node:net";
import { Duplex } from "node:stream";
import { after, before, describe, test } from "node:test";
import { createConnectRouter } from "@connectrpc/connect";
import { Health } from "../../src/gen/grpc/health/v1/health_pb.js";
import { connectStreamHandler } from "../../src/h2/connect.js";
import { encodeHeaders, HpackDecoder } from "../../src/h2/hpack.js";
import {
  type H2Headers,
  H2Session,
  type H2Stream,
  PREFACE,
  requestHeaders,
  type SessionOptions,
} from "../../src/h2/session.js";
import { createHealthService, HealthState } from "../../src/rpc/health.js";
import { seededRandom } from "../support/sample.js";

// ---- Frames ---------------------------------------------------------------------------------

const DATA = 0x0;
const HEADERS = 0x1;
const PRIORITY = 0x2;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PUSH_PROMISE = 0x5;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const CONTINUATION = 0x9;

const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY_FLAG = 0x20;

const NO_ERROR = 0x0;
const PROTOCOL_ERROR = 0x1;
const FLOW_CONTROL_ERROR = 0x3;
const STREAM_CLOSED = 0x5;
const FRAME_SIZE_ERROR = 0x6;
const REFUSED_STREAM = 0x7;
const CANCEL = 0x8;
const COMPRESSION_ERROR = 0x9;
const ENHANCE_YOUR_CALM = 0xb;

const S_INITIAL_WINDOW_SIZE = 0x4;
const S_MAX_FRAME_SIZE = 0x5;

function frame(type: number, flags: number, id: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(id >>> 0, 5);
  return Buffer.concat([h, payload]);
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

function settings(...pairs: [number, number][]): Buffer {
  const b = Buffer.alloc(6 * pairs.length);
  pairs.forEach(([k, v], i) => {
    b.writeUInt16BE(k, 6 * i);
    b.writeUInt32BE(v >>> 0, 6 * i + 2);
  });
  return frame(SETTINGS, 0, 0, b);
}

/** A request's header block: the pseudo fields of a GET (or `method`) to `path`, then `extra`. */
function requestBlock(path: string, extra: string[] = [], method = "GET"): Buffer {
  return encodeHeaders([
    ":method",
    method,
    ":scheme",
    "http",
    ":path",
    path,
    ":authority",
    "localhost",
    ...extra,
  ]);
}

function headersFrame(id: number, block: Uint8Array, endStream = true): Buffer {
  return frame(HEADERS, END_HEADERS | (endStream ? END_STREAM : 0), id, block);
}

const HELLO = Buffer.concat([PREFACE, settings()]);

interface Frame {
  type: number;
  flags: number;
  id: number;
  payload: Buffer;
}

/** A raw HTTP/2 client: writes bytes, collects the server's frames, tells when the socket closed. */
class Raw extends EventEmitter {
  readonly frames: Frame[] = [];
  private buf = Buffer.alloc(0);
  closed = false;
  private pingSeq = 0;
  private readonly decoder = new HpackDecoder({ maxTableSize: 4096, maxHeaderListSize: 1 << 20 });

  private constructor(readonly socket: net.Socket) {
    super();
    socket.on("data", (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      while (this.buf.length >= 9) {
        const len = this.buf.readUIntBE(0, 3);
        if (this.buf.length < 9 + len) break;
        this.frames.push({
          type: this.buf[3]!,
          flags: this.buf[4]!,
          id: this.buf.readUInt32BE(5) & 0x7fffffff,
          payload: Buffer.from(this.buf.subarray(9, 9 + len)),
        });
        this.buf = this.buf.subarray(9 + len);
      }
      this.emit("update");
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
      this.emit("update");
    });
  }

  static async connect(port: number, hello: Buffer | null = HELLO): Promise<Raw> {
    const socket = net.connect(port, "127.0.0.1");
    await once(socket, "connect");
    const r = new Raw(socket);
    if (hello !== null) r.send(hello);
    return r;
  }

  send(...bufs: Buffer[]): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.concat(bufs));
  }

  /** Waits until `check` returns a value (re-checked on every frame and on close). */
  async until<T>(check: () => T | undefined, what: string, ms = 3000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          this.off("update", done);
          resolve();
        };
        const t = setTimeout(done, left);
        this.on("update", done);
      });
    }
  }

  async frame(pred: (f: Frame) => boolean, what: string, ms = 3000): Promise<Frame> {
    return this.until(() => this.frames.find(pred) ?? (this.closed ? null : undefined), what, ms).then(
      (f) => {
        if (f === null) throw new Error(`connection closed before ${what}`);
        return f;
      },
    );
  }

  /** The GOAWAY's error code; and the socket must close after it. */
  async goaway(ms = 3000): Promise<number> {
    const g = await this.until(() => this.frames.find((f) => f.type === GOAWAY), "GOAWAY", ms);
    await this.until(() => (this.closed ? true : undefined), "close after GOAWAY", ms);
    return g.payload.readUInt32BE(4);
  }

  async rst(id: number, ms = 3000): Promise<number> {
    const f = await this.frame((f) => f.type === RST_STREAM && f.id === id, `RST_STREAM on ${id}`, ms);
    return f.payload.readUInt32BE(0);
  }

  /** Round trip: once the server acks this PING, it has processed everything sent before it. */
  async sync(ms = 3000): Promise<void> {
    const p = Buffer.alloc(8);
    p.writeUInt32BE(0x5a5a0000 + ++this.pingSeq, 4);
    this.send(frame(PING, 0, 0, p));
    await this.frame((f) => f.type === PING && (f.flags & ACK) !== 0 && f.payload.equals(p), "PING ack", ms);
  }

  /** The response on a stream: decoded :status (the first HEADERS), body bytes, ended? */
  response(id: number): { status?: string; body: Buffer; ended: boolean; trailers?: string[] } {
    let status: string | undefined;
    let trailers: string[] | undefined;
    const body: Buffer[] = [];
    let ended = false;
    for (const f of this.frames) {
      if (f.id !== id) continue;
      if (f.type === HEADERS) {
        const fields = this.decodeBlock(f);
        if (status === undefined) status = fields[1];
        else trailers = fields;
      }
      if (f.type === DATA) body.push(f.payload);
      if ((f.type === HEADERS || f.type === DATA) && (f.flags & END_STREAM) !== 0) ended = true;
    }
    return {
      ...(status === undefined ? {} : { status }),
      body: Buffer.concat(body),
      ended,
      ...(trailers ? { trailers } : {}),
    };
  }

  private readonly decoded = new Map<Frame, string[]>();
  private decodeBlock(f: Frame): string[] {
    let d = this.decoded.get(f);
    if (d === undefined) {
      // Blocks are decoded in arrival order: the server's encoder keeps no dynamic table anyway.
      const i = this.frames.indexOf(f);
      const parts = [f.payload];
      for (let j = i + 1; (f.flags & END_HEADERS) === 0 && j < this.frames.length; j++) {
        const c = this.frames[j]!;
        parts.push(c.payload);
        if ((c.flags & END_HEADERS) !== 0) break;
      }
      d = this.decoder.decode(Buffer.concat(parts));
      this.decoded.set(f, d);
    }
    return d;
  }

  async ended(id: number, ms = 3000): Promise<ReturnType<Raw["response"]>> {
    return this.until(
      () => {
        const r = this.response(id);
        return r.ended ? r : this.closed ? null : undefined;
      },
      `end of stream ${id}`,
      ms,
    ).then((r) => {
      if (r === null) throw new Error(`connection closed before stream ${id} ended`);
      return r;
    });
  }

  dataBytes(id: number): number {
    let n = 0;
    for (const f of this.frames) if (f.type === DATA && f.id === id) n += f.payload.length;
    return n;
  }

  close(): void {
    this.socket.destroy();
  }
}

// ---- The server under test ------------------------------------------------------------------

interface Server {
  port: number;
  sessions: H2Session[];
  /** Streams the handler was given, in order. */
  streams: H2Stream[];
  close(): Promise<void>;
}

async function startServer(
  handler: (stream: H2Stream, headers: H2Headers) => void,
  opts: Partial<Omit<SessionOptions, "onStream">> = {},
): Promise<Server> {
  const sessions: H2Session[] = [];
  const streams: H2Stream[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    sessions.push(
      new H2Session(socket, {
        ...opts,
        onStream: (s, h) => {
          streams.push(s);
          handler(s, h);
        },
      }),
    );
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    sessions,
    streams,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function pattern(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** Releases for handlers that wait (path /wait): resolve one to answer that request. */
const waiting: (() => void)[] = [];

/**
 * The test handler, by path:
 *   /echo         the request body back, with gRPC-style trailers and a multi-valued header
 *   /echo-slow    the same, reading as connect.ts does (autoAck off, `consumed` on a later tick)
 *   /bytes?n=N    N pattern bytes, with trailers
 *   /count        the number of request body bytes, as text
 *   /hold         reads nothing (autoAck off, never consumed), never answers
 *   /wait         answers "ok" once released (see `waiting`)
 */
function testHandler(stream: H2Stream, headers: H2Headers): void {
  const path = headers[":path"] as string;
  const url = new URL(path, "http://x");
  const withTrailers = (data: Buffer): void => {
    if (stream.destroyed) return;
    stream.respond(
      { ":status": 200, "x-multi": ["a", "b"], "x-len": data.length },
      { waitForTrailers: true },
    );
    stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": 0, "x-sum": data.length }));
    stream.end(data);
  };
  switch (url.pathname) {
    case "/echo": {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(Buffer.from(c)));
      stream.on("end", () => withTrailers(Buffer.concat(chunks)));
      return;
    }
    case "/echo-slow": {
      const chunks: Buffer[] = [];
      stream.autoAck = false;
      stream.on("data", (c: Buffer) => {
        chunks.push(Buffer.from(c));
        setImmediate(() => stream.consumed(c.length));
      });
      stream.on("end", () => setImmediate(() => withTrailers(Buffer.concat(chunks))));
      return;
    }
    case "/bytes":
      stream.on("end", () => withTrailers(pattern(Number(url.searchParams.get("n")))));
      return;
    case "/count": {
      let n = 0;
      stream.on("data", (c: Buffer) => {
        n += c.length;
      });
      stream.on("end", () => {
        stream.respond({ ":status": 200 });
        stream.end(Buffer.from(String(n)));
      });
      return;
    }
    case "/hold":
      stream.autoAck = false;
      return;
    case "/wait":
      waiting.push(() => {
        if (stream.destroyed) return;
        stream.respond({ ":status": 200 });
        stream.end(Buffer.from("ok"));
      });
      return;
    default:
      stream.respond({ ":status": 404 }, { endStream: true });
  }
}

// ---- node:http2 client helpers --------------------------------------------------------------

interface Reply {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  trailers?: http2.IncomingHttpHeaders;
  rstCode: number;
}

function request(
  client: http2.ClientHttp2Session,
  path: string,
  body?: Buffer,
  extra: http2.OutgoingHttpHeaders = {},
  ms = 10_000,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = client.request(
      { ":method": body === undefined ? "GET" : "POST", ":path": path, ...extra },
      { endStream: body === undefined },
    );
    const timer = setTimeout(() => {
      req.close();
      reject(new Error(`request ${path} timed out`));
    }, ms);
    let status = 0;
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    req.on("response", (h) => {
      headers = h;
      status = Number(h[":status"]);
    });
    req.on("trailers", (t) => {
      trailers = t;
    });
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("error", () => {}); // reported through rstCode on close
    req.on("close", () => {
      clearTimeout(timer);
      resolve({
        status,
        headers,
        body: Buffer.concat(chunks),
        ...(trailers ? { trailers } : {}),
        rstCode: req.rstCode ?? 0,
      });
    });
    if (body !== undefined) req.end(body);
  });
}

async function connectClient(
  port: number,
  options: http2.ClientSessionOptions = {},
): Promise<http2.ClientHttp2Session> {
  const client = http2.connect(`http://127.0.0.1:${port}`, options);
  client.on("error", () => {});
  await once(client, "connect");
  return client;
}

function closeClient(client: http2.ClientHttp2Session): Promise<void> {
  if (client.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      client.destroy();
      resolve();
    }, 1000);
    client.close(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Fails the test on any exception escaping to the process while `fn` runs. */
async function noUncaught(fn: () => Promise<void>): Promise<void> {
  const errors: unknown[] = [];
  const onErr = (e: unknown): void => {
    errors.push(e);
  };
  process.on("uncaughtException", onErr);
  try {
    await fn();
    await delay(20);
  } finally {
    process.off("uncaughtException", onErr);
  }
  assert.deepEqual(errors, []);
}

// ---- Tests ----------------------------------------------------------------------------------

describe("H2Session with node:http2 as the client", () => {
  let server: Server;
  let client: http2.ClientHttp2Session;
  before(async () => {
    server = await startServer(testHandler);
    client = await connectClient(server.port);
  });
  after(async () => {
    await closeClient(client);
    await server.close();
  });

  for (const size of [0, 1, 100 * 1024, 5 * 1024 * 1024]) {
    test(`POST echo of ${size} bytes, byte-exact, with trailers`, async () => {
      const body = pattern(size, size + 7);
      for (const path of ["/echo", "/echo-slow"]) {
        const r = await request(client, path, body);
        assert.equal(r.status, 200, path);
        assert.equal(r.rstCode, 0, path);
        assert.equal(r.body.length, size, path);
        assert.ok(r.body.equals(body), `${path}: body differs`);
        assert.equal(r.trailers?.["grpc-status"], "0", path);
        assert.equal(r.trailers?.["x-sum"], String(size), path);
      }
    });
  }

  test("GET: response headers (multi-valued), body and trailers", async () => {
    const r = await request(client, "/bytes?n=1000");
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-len"], "1000");
    // node:http2 joins repeated fields with ", ".
    assert.equal(r.headers["x-multi"], "a, b");
    assert.ok(r.body.equals(pattern(1000)));
    assert.equal(r.trailers?.["grpc-status"], "0");
    const nf = await request(client, "/nope");
    assert.equal(nf.status, 404);
    assert.equal(nf.rstCode, 0);
  });

  test("request headers reach the handler: repeated fields as arrays, cookies joined", async () => {
    let seen: H2Headers | undefined;
    const s = await startServer((stream, h) => {
      seen = h;
      stream.respond({ ":status": 204 }, { endStream: true });
    });
    const c = await connectClient(s.port);
    try {
      const r = await request(c, "/h?q=1", undefined, { "x-rep": ["1", "2"], cookie: ["a=1", "b=2"] });
      assert.equal(r.status, 204);
      assert.equal(r.rstCode, 0);
      assert.equal(seen?.[":path"], "/h?q=1");
      assert.equal(seen?.[":method"], "GET");
      assert.deepEqual(seen?.["x-rep"], ["1", "2"]);
      assert.equal(seen?.cookie, "a=1; b=2");
    } finally {
      await closeClient(c);
      await s.close();
    }
  });

  test("200 concurrent streams on one connection all complete", async () => {
    const rs = await Promise.all(
      Array.from({ length: 200 }, (_, i) => request(client, `/echo`, pattern(100 + i, i))),
    );
    rs.forEach((r, i) => {
      assert.equal(r.status, 200);
      assert.ok(r.body.equals(pattern(100 + i, i)), `stream ${i}`);
    });
  });

  test("2 MB response to a client with a 1 KiB stream window (and with a large max frame size)", async () => {
    for (const settings of [
      { initialWindowSize: 1024 },
      { initialWindowSize: 1024, maxFrameSize: 1 << 20 },
      { initialWindowSize: 3 << 20, maxFrameSize: 1 << 20 },
    ]) {
      const c = await connectClient(server.port, { settings });
      try {
        const rs = await Promise.all([request(c, "/bytes?n=2000000"), request(c, "/bytes?n=3000000")]);
        assert.ok(rs[0]!.body.equals(pattern(2_000_000)), JSON.stringify(settings));
        assert.ok(rs[1]!.body.equals(pattern(3_000_000)), JSON.stringify(settings));
        assert.equal(rs[1]!.trailers?.["x-sum"], "3000000");
      } finally {
        await closeClient(c);
      }
    }
  });

  test("a client that shrinks the HPACK table (SETTINGS_HEADER_TABLE_SIZE 0) can decode our headers", async () => {
    const c = await connectClient(server.port, { settings: { headerTableSize: 0 } });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await request(c, "/bytes?n=10");
        assert.equal(r.status, 200);
        assert.equal(r.rstCode, 0);
        assert.equal(r.trailers?.["grpc-status"], "0");
      }
    } finally {
      await closeClient(c);
    }
  });

  test("a 40 KB request header value arrives via CONTINUATION frames", async () => {
    let got: string | undefined;
    const s = await startServer((stream, h) => {
      got = h["x-big"] as string;
      stream.respond({ ":status": 200 }, { endStream: true });
    });
    const c = await connectClient(s.port);
    try {
      const big = "v".repeat(40_000);
      const r = await request(c, "/", undefined, { "x-big": big });
      assert.equal(r.status, 200);
      assert.equal(got, big);
    } finally {
      await closeClient(c);
      await s.close();
    }
  });

  test("client cancels a waiting stream: the handler's stream closes with CANCEL, the connection goes on", async () => {
    const before = server.streams.length;
    const req = client.request({ ":path": "/wait" });
    req.on("error", () => {});
    const stream = await until(() => server.streams[before], "the handler's stream");
    const closed = once(stream, "close");
    req.close(http2.constants.NGHTTP2_CANCEL);
    await withTimeout(closed, 3000, "stream close");
    assert.equal(stream.destroyed, true);
    assert.equal(stream.rstCode, CANCEL);
    waiting.pop()?.(); // answering a reset stream writes nothing
    const r = await request(client, "/echo", Buffer.from("after"));
    assert.equal(r.body.toString(), "after");
  });
});

async function until<T>(check: () => T | undefined, what: string, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        t = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(t);
  }
}

describe("limits, seen by node:http2", () => {
  test("streams beyond maxConcurrentStreams are refused (REFUSED_STREAM), the rest complete", async () => {
    const s = await startServer(testHandler, { maxConcurrentStreams: 4 });
    // Requests sent before the client has read our SETTINGS, so it does not hold them back.
    const c = http2.connect(`http://127.0.0.1:${s.port}`);
    c.on("error", () => {});
    try {
      const ps = Array.from({ length: 10 }, () => request(c, "/wait", undefined, {}, 5000));
      await until(() => (s.streams.length >= 4 ? true : undefined), "4 streams");
      await delay(50);
      assert.equal(s.streams.length, 4);
      while (waiting.length > 0) waiting.shift()!();
      const rs = await Promise.all(ps);
      const refused = rs.filter((r) => r.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM);
      const ok = rs.filter((r) => r.status === 200 && r.body.toString() === "ok");
      assert.equal(refused.length, 6);
      assert.equal(ok.length, 4);
      // And the connection still works.
      const r = await request(c, "/echo", Buffer.from("x"));
      assert.equal(r.body.toString(), "x");
    } finally {
      waiting.length = 0;
      await closeClient(c);
      await s.close();
    }
  });

  test("a header list beyond maxHeaderListSize resets that stream; the connection continues", async () => {
    const s = await startServer(testHandler, { maxHeaderListSize: 4096 });
    const raw = await Raw.connect(s.port);
    try {
      // Just over the limit, in three frames: a stream error.
      const block = requestBlock("/echo", ["x-big", "y".repeat(6000)]);
      raw.send(
        frame(HEADERS, END_STREAM, 1, block.subarray(0, 2000)),
        frame(CONTINUATION, 0, 1, block.subarray(2000, 4000)),
        frame(CONTINUATION, END_HEADERS, 1, block.subarray(4000)),
      );
      assert.equal(await raw.rst(1), PROTOCOL_ERROR);
      raw.send(headersFrame(3, requestBlock("/bytes?n=5")));
      const r = await raw.ended(3);
      assert.equal(r.status, "200");
      assert.equal(r.body.length, 5);
      assert.equal(s.streams.length, 1);
      // Far over it (the encoded block alone beyond twice the limit): not buffered, the
      // connection is cut off.
      const huge = requestBlock("/echo", ["x-big", "y".repeat(30_000)]);
      raw.send(
        frame(HEADERS, END_STREAM, 5, huge.subarray(0, 16_000)),
        frame(CONTINUATION, END_HEADERS, 5, huge.subarray(16_000)),
      );
      assert.equal(await raw.goaway(), ENHANCE_YOUR_CALM);
    } finally {
      raw.close();
      await s.close();
    }
  });

  test("bytes a reader never consumed are released when its stream is reset (the socket is not left paused)", async () => {
    const s = await startServer(testHandler, { streamWindow: 65_535, connectionWindow: 256 << 20 });
    const raw = await Raw.connect(s.port);
    try {
      // 600 streams × 64 KB held by /hold readers (autoAck off, never consumed), each reset:
      // 38 MB, past the session's 32 MiB pause mark if the held bytes leaked.
      const chunk = Buffer.alloc(16_383);
      for (let i = 0; i < 600; i++) {
        const id = 1 + 2 * i;
        const parts = [headersFrame(id, requestBlock("/hold"), false)];
        for (let k = 0; k < 4; k++) parts.push(frame(DATA, 0, id, chunk));
        parts.push(frame(RST_STREAM, 0, id, u32(CANCEL)));
        raw.send(...parts); // not waiting for "drain": a server that stopped reading never sends it
      }
      raw.send(headersFrame(1201, requestBlock("/bytes?n=7")));
      assert.equal((await raw.ended(1201, 5000)).body.length, 7);
    } finally {
      raw.close();
      await s.close();
    }
  });

  test("a handler that throws fails its stream (INTERNAL_ERROR), not the connection", async () => {
    const errors: unknown[] = [];
    const s = await startServer(
      (stream, h) => {
        if (h[":path"] === "/throw") throw new Error("handler bug");
        testHandler(stream, h);
      },
      { onHandlerError: (e) => errors.push(e) },
    );
    const raw = await Raw.connect(s.port);
    try {
      raw.send(headersFrame(1, requestBlock("/throw")));
      assert.equal(await raw.rst(1), 0x2);
      raw.send(headersFrame(3, requestBlock("/bytes?n=2")));
      assert.equal((await raw.ended(3)).body.length, 2);
      assert.equal(errors.length, 1);
      assert.equal((errors[0] as Error).message, "handler bug");
    } finally {
      raw.close();
      await s.close();
    }
  });

  test("graceful close(): GOAWAY, the in-flight request completes, new streams are refused, the socket ends", async () => {
    const s = await startServer(testHandler);
    const c = await connectClient(s.port);
    try {
      const goaway = once(c, "goaway");
      const p = request(c, "/wait");
      await until(() => s.streams[0], "the stream");
      const session = s.sessions[0]!;
      let closes = 0;
      session.on("close", () => closes++);
      session.close();
      const [code, lastId] = (await withTimeout(goaway, 3000, "goaway")) as [number, number];
      assert.equal(code, NO_ERROR);
      assert.equal(lastId, 1);
      waiting.shift()!();
      const r = await p;
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), "ok");
      await withTimeout(once(c, "close"), 3000, "client close");
      assert.equal(session.closed, true);
      assert.equal(closes, 1);
    } finally {
      waiting.length = 0;
      c.destroy();
      await s.close();
    }
  });
});

describe("hostile and malformed input from a raw socket", () => {
  let server: Server;
  before(async () => {
    server = await startServer(testHandler, { streamWindow: 65_535, connectionWindow: 1 << 20 });
  });
  after(async () => {
    await server.close();
  });

  async function expectGoaway(bytes: Buffer[], code: number, hello: Buffer | null = HELLO): Promise<Raw> {
    const raw = await Raw.connect(server.port, hello);
    raw.send(...bytes);
    try {
      assert.equal(await raw.goaway(), code);
    } finally {
      raw.close();
    }
    return raw;
  }

  test("bad preface → GOAWAY PROTOCOL_ERROR and close", async () => {
    await expectGoaway([Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")], PROTOCOL_ERROR, null);
    await expectGoaway([Buffer.from("PRI * HTTP/2.0\r\n\r\nSX\r\n\r\n")], PROTOCOL_ERROR, null);
  });

  test("a connection error's reason is the GOAWAY's debug data", async () => {
    const srv = await startServer(testHandler);
    try {
      const raw = await Raw.connect(srv.port, null);
      raw.send(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      const g = await raw.frame((f) => f.type === GOAWAY, "GOAWAY");
      assert.equal(g.payload.readUInt32BE(4), PROTOCOL_ERROR);
      assert.equal(g.payload.subarray(8).toString(), "bad connection preface");
    } finally {
      await srv.close();
    }
  });

  test("first frame not SETTINGS → PROTOCOL_ERROR", async () => {
    await expectGoaway([PREFACE, frame(PING, 0, 0, Buffer.alloc(8))], PROTOCOL_ERROR, null);
  });

  test("frame longer than 16384 → FRAME_SIZE_ERROR", async () => {
    await expectGoaway([frame(DATA, 0, 1, Buffer.alloc(16_385))], FRAME_SIZE_ERROR);
    // Only the header needs to have arrived.
    await expectGoaway([frame(0xfa, 0, 0, Buffer.alloc(0)).fill(0xff, 0, 3)], FRAME_SIZE_ERROR);
  });

  test("HEADERS on stream 0 or an even stream → PROTOCOL_ERROR", async () => {
    await expectGoaway([headersFrame(0, requestBlock("/echo"))], PROTOCOL_ERROR);
    await expectGoaway([headersFrame(2, requestBlock("/echo"))], PROTOCOL_ERROR);
  });

  test("a new stream id lower than one already used → connection error", async () => {
    const raw = await Raw.connect(server.port);
    try {
      raw.send(headersFrame(5, requestBlock("/bytes?n=1")), headersFrame(3, requestBlock("/bytes?n=1")));
      // PROTOCOL_ERROR (RFC 9113 §5.1.1) or STREAM_CLOSED: both are connection errors.
      assert.ok([PROTOCOL_ERROR, STREAM_CLOSED].includes(await raw.goaway()));
    } finally {
      raw.close();
    }
  });

  test("DATA on an idle stream, on stream 0, on an even stream → PROTOCOL_ERROR", async () => {
    await expectGoaway([frame(DATA, 0, 1, Buffer.from("x"))], PROTOCOL_ERROR);
    await expectGoaway([frame(DATA, 0, 0, Buffer.from("x"))], PROTOCOL_ERROR);
    await expectGoaway(
      [headersFrame(3, requestBlock("/hold"), false), frame(DATA, 0, 2, Buffer.from("x"))],
      PROTOCOL_ERROR,
    );
  });

  test("CONTINUATION without HEADERS; a header block interrupted by another frame → PROTOCOL_ERROR", async () => {
    await expectGoaway([frame(CONTINUATION, END_HEADERS, 1, requestBlock("/"))], PROTOCOL_ERROR);
    const b = requestBlock("/bytes?n=1");
    await expectGoaway(
      [frame(HEADERS, END_STREAM, 1, b.subarray(0, 5)), frame(PING, 0, 0, Buffer.alloc(8))],
      PROTOCOL_ERROR,
    );
    await expectGoaway(
      [frame(HEADERS, END_STREAM, 1, b.subarray(0, 5)), frame(CONTINUATION, END_HEADERS, 3, b.subarray(5))],
      PROTOCOL_ERROR,
    );
    await expectGoaway(
      [frame(HEADERS, END_STREAM, 1, b.subarray(0, 5)), frame(0xfa, 0, 0, Buffer.alloc(3))],
      PROTOCOL_ERROR,
    );
  });

  test("an endless CONTINUATION sequence → ENHANCE_YOUR_CALM long before 10 MB", async () => {
    for (const fragment of [16_384, 0]) {
      const raw = await Raw.connect(server.port);
      try {
        raw.send(frame(HEADERS, 0, 1, requestBlock("/")));
        const chunk = Buffer.concat(
          Array.from({ length: fragment === 0 ? 4096 : 4 }, () =>
            frame(CONTINUATION, 0, 1, Buffer.alloc(fragment, 0x40)),
          ),
        );
        let sent = 0;
        while (!raw.closed && !raw.frames.some((f) => f.type === GOAWAY) && sent < 10 << 20) {
          if (!raw.socket.write(chunk)) await Promise.race([once(raw.socket, "drain"), once(raw, "update")]);
          sent += chunk.length;
          await new Promise(setImmediate);
        }
        assert.ok(sent < 10 << 20, `sent ${sent} bytes without a GOAWAY (fragment ${fragment})`);
        assert.equal(await raw.goaway(), ENHANCE_YOUR_CALM);
      } finally {
        raw.close();
      }
    }
  });

  test("invalid HPACK → COMPRESSION_ERROR", async () => {
    await expectGoaway([headersFrame(1, Buffer.from([0x80]))], COMPRESSION_ERROR); // index 0
    await expectGoaway(
      [headersFrame(1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))],
      COMPRESSION_ERROR,
    );
    await expectGoaway([headersFrame(1, Buffer.from([0x00, 0x05, 0x61]))], COMPRESSION_ERROR); // truncated
  });

  test("bad SETTINGS: length, stream id, ack with payload, values", async () => {
    await expectGoaway([frame(SETTINGS, 0, 0, Buffer.alloc(5))], FRAME_SIZE_ERROR);
    await expectGoaway([frame(SETTINGS, ACK, 0, Buffer.alloc(6))], FRAME_SIZE_ERROR);
    await expectGoaway([frame(SETTINGS, 0, 1, Buffer.alloc(0))], PROTOCOL_ERROR);
    await expectGoaway([settings([S_INITIAL_WINDOW_SIZE, 2 ** 31])], FLOW_CONTROL_ERROR);
    await expectGoaway([settings([S_MAX_FRAME_SIZE, 16_383])], PROTOCOL_ERROR);
    await expectGoaway([settings([S_MAX_FRAME_SIZE, 1 << 24])], PROTOCOL_ERROR);
    await expectGoaway([settings([0x2, 2])], PROTOCOL_ERROR);
  });

  test("bad PING, RST_STREAM, WINDOW_UPDATE, GOAWAY, PUSH_PROMISE frames → connection errors", async () => {
    await expectGoaway([frame(PING, 0, 0, Buffer.alloc(7))], FRAME_SIZE_ERROR);
    await expectGoaway([frame(PING, 0, 1, Buffer.alloc(8))], PROTOCOL_ERROR);
    await expectGoaway([frame(RST_STREAM, 0, 0, u32(8))], PROTOCOL_ERROR);
    await expectGoaway([frame(RST_STREAM, 0, 1, u32(8))], PROTOCOL_ERROR); // idle
    await expectGoaway(
      [headersFrame(1, requestBlock("/hold"), false), frame(RST_STREAM, 0, 1, Buffer.alloc(3))],
      FRAME_SIZE_ERROR,
    );
    await expectGoaway([frame(WINDOW_UPDATE, 0, 0, u32(0))], PROTOCOL_ERROR);
    await expectGoaway([frame(WINDOW_UPDATE, 0, 0, Buffer.alloc(3))], FRAME_SIZE_ERROR);
    await expectGoaway([frame(WINDOW_UPDATE, 0, 7, u32(1))], PROTOCOL_ERROR); // idle
    await expectGoaway([frame(GOAWAY, 0, 0, Buffer.alloc(4))], FRAME_SIZE_ERROR);
    await expectGoaway([frame(GOAWAY, 0, 1, Buffer.alloc(8))], PROTOCOL_ERROR);
    await expectGoaway([frame(PUSH_PROMISE, END_HEADERS, 1, Buffer.alloc(4))], PROTOCOL_ERROR);
    await expectGoaway([frame(PRIORITY, 0, 0, Buffer.alloc(5))], PROTOCOL_ERROR);
  });

  test("WINDOW_UPDATE overflowing the connection send window → FLOW_CONTROL_ERROR", async () => {
    await expectGoaway([frame(WINDOW_UPDATE, 0, 0, u32(2 ** 31 - 65_535))], FLOW_CONTROL_ERROR);
  });

  test("stream errors: the stream is reset, the connection goes on", async () => {
    const raw = await Raw.connect(server.port);
    try {
      // WINDOW_UPDATE of 0 on a stream.
      raw.send(headersFrame(1, requestBlock("/hold"), false), frame(WINDOW_UPDATE, 0, 1, u32(0)));
      assert.equal(await raw.rst(1), PROTOCOL_ERROR);
      // A stream window overflow.
      raw.send(headersFrame(3, requestBlock("/hold"), false), frame(WINDOW_UPDATE, 0, 3, u32(2 ** 31 - 1)));
      assert.equal(await raw.rst(3), FLOW_CONTROL_ERROR);
      // DATA after END_STREAM (half-closed remote).
      raw.send(headersFrame(5, requestBlock("/hold"), true), frame(DATA, 0, 5, Buffer.from("x")));
      assert.equal(await raw.rst(5), STREAM_CLOSED);
      // PRIORITY of the wrong length.
      raw.send(headersFrame(7, requestBlock("/hold"), false), frame(PRIORITY, 0, 7, Buffer.alloc(4)));
      assert.equal(await raw.rst(7), FRAME_SIZE_ERROR);
      // Trailers without END_STREAM.
      raw.send(
        headersFrame(9, requestBlock("/hold"), false),
        headersFrame(9, encodeHeaders(["x-t", "1"]), false),
      );
      assert.equal(await raw.rst(9), PROTOCOL_ERROR);
      raw.send(headersFrame(11, requestBlock("/bytes?n=3")));
      const r = await raw.ended(11);
      assert.equal(r.status, "200");
      assert.equal(r.body.length, 3);
      assert.equal(raw.closed, false);
    } finally {
      raw.close();
    }
  });

  test("DATA beyond the stream window → RST_STREAM FLOW_CONTROL_ERROR; the connection goes on", async () => {
    const raw = await Raw.connect(server.port);
    try {
      raw.send(headersFrame(1, requestBlock("/hold"), false));
      for (let sent = 0; sent < 65_535; sent += 16_384) {
        raw.send(frame(DATA, 0, 1, Buffer.alloc(Math.min(16_384, 65_535 - sent))));
      }
      await raw.sync();
      assert.equal(raw.frames.filter((f) => f.type === RST_STREAM).length, 0);
      raw.send(frame(DATA, 0, 1, Buffer.alloc(1)));
      assert.equal(await raw.rst(1), FLOW_CONTROL_ERROR);
      raw.send(headersFrame(3, requestBlock("/bytes?n=3")));
      assert.equal((await raw.ended(3)).body.length, 3);
    } finally {
      raw.close();
    }
  });

  test("padded DATA: padding counts against the window and is given back; bad padding → PROTOCOL_ERROR", async () => {
    const raw = await Raw.connect(server.port);
    try {
      // 300,000 bytes of data in padded frames, through a 65,535-byte stream window: only
      // possible if the server returns the window the padding used.
      let streamWin = 65_535;
      let connWin = 65_535;
      let seen = 0;
      const grant = (): void => {
        for (; seen < raw.frames.length; seen++) {
          const f = raw.frames[seen]!;
          if (f.type !== WINDOW_UPDATE) continue;
          if (f.id === 0) connWin += f.payload.readUInt32BE(0);
          else if (f.id === 1) streamWin += f.payload.readUInt32BE(0);
        }
      };
      raw.send(headersFrame(1, requestBlock("/count", [], "POST"), false));
      let left = 300_000;
      while (left > 0) {
        const data = Math.min(left, 1000);
        const pad = 255;
        const cost = 1 + data + pad;
        await raw.until(() => {
          grant();
          return streamWin >= cost && connWin >= cost ? true : undefined;
        }, "window");
        const payload = Buffer.alloc(cost);
        payload[0] = pad;
        raw.send(frame(DATA, PADDED | (left === data ? END_STREAM : 0), 1, payload));
        streamWin -= cost;
        connWin -= cost;
        left -= data;
      }
      const r = await raw.ended(1);
      assert.equal(r.body.toString(), "300000");
      raw.send(headersFrame(3, requestBlock("/count", [], "POST"), false));
      const bad = Buffer.alloc(10);
      bad[0] = 10; // padding as long as the frame
      raw.send(frame(DATA, PADDED, 3, bad));
      assert.equal(await raw.goaway(), PROTOCOL_ERROR);
    } finally {
      raw.close();
    }
  });

  test("padded HEADERS and HEADERS with priority fields decode; self-dependency → PROTOCOL_ERROR", async () => {
    const raw = await Raw.connect(server.port);
    try {
      const block = requestBlock("/bytes?n=2");
      const padded = Buffer.concat([Buffer.from([4]), block, Buffer.alloc(4)]);
      raw.send(frame(HEADERS, END_HEADERS | END_STREAM | PADDED, 1, padded));
      assert.equal((await raw.ended(1)).body.length, 2);
      const prio = Buffer.concat([u32(1), Buffer.from([16]), block]);
      raw.send(frame(HEADERS, END_HEADERS | END_STREAM | PRIORITY_FLAG, 3, prio));
      assert.equal((await raw.ended(3)).body.length, 2);
      raw.send(frame(PRIORITY, 0, 9, Buffer.concat([u32(3), Buffer.from([1])])));
      raw.send(frame(0xfa, 0xff, 0, Buffer.from("unknown frames are ignored")));
      raw.send(frame(0xfb, 0, 11, Buffer.alloc(100)));
      await raw.sync();
      assert.equal(raw.closed, false);
      const self = Buffer.concat([u32(5), Buffer.from([16]), block]);
      raw.send(frame(HEADERS, END_HEADERS | END_STREAM | PRIORITY_FLAG, 5, self));
      assert.equal(await raw.goaway(), PROTOCOL_ERROR);
    } finally {
      raw.close();
    }
  });

  test("PING gets an ACK with the same payload; a PING ack is not answered", async () => {
    const raw = await Raw.connect(server.port);
    try {
      const p = Buffer.from("12345678");
      raw.send(frame(PING, 0, 0, p), frame(PING, ACK, 0, Buffer.from("abcdefgh")));
      const ack = await raw.frame((f) => f.type === PING, "PING ack");
      assert.equal(ack.flags, ACK);
      assert.equal(ack.id, 0);
      assert.ok(ack.payload.equals(p));
      await raw.sync();
      assert.equal(raw.frames.filter((f) => f.type === PING).length, 2);
      // SETTINGS are acknowledged.
      raw.send(settings([S_MAX_FRAME_SIZE, 20_000]));
      await raw.frame((f) => f.type === SETTINGS && f.flags === ACK, "SETTINGS ack");
    } finally {
      raw.close();
    }
  });

  test("malformed request headers → RST_STREAM PROTOCOL_ERROR on that stream only", async () => {
    const bad: [string, string[]][] = [
      ["uppercase name", [":method", "GET", ":scheme", "http", ":path", "/", "X-Up", "1"]],
      ["no :path", [":method", "GET", ":scheme", "http"]],
      ["empty :path", [":method", "GET", ":scheme", "http", ":path", ""]],
      ["no :method", [":scheme", "http", ":path", "/"]],
      ["no :scheme", [":method", "GET", ":path", "/"]],
      ["CONNECT", [":method", "CONNECT", ":authority", "x:1"]],
      ["connection header", [":method", "GET", ":scheme", "http", ":path", "/", "connection", "close"]],
      [
        "transfer-encoding",
        [":method", "GET", ":scheme", "http", ":path", "/", "transfer-encoding", "chunked"],
      ],
      ["te: gzip", [":method", "GET", ":scheme", "http", ":path", "/", "te", "gzip"]],
      ["pseudo after regular", [":method", "GET", ":scheme", "http", "x-a", "1", ":path", "/"]],
      ["duplicate pseudo", [":method", "GET", ":scheme", "http", ":path", "/", ":path", "/x"]],
      ["unknown pseudo", [":method", "GET", ":scheme", "http", ":path", "/", ":status", "200"]],
      ["response pseudo", [":status", "200"]],
      ["space in name", [":method", "GET", ":scheme", "http", ":path", "/", "x y", "1"]],
      ["empty name", [":method", "GET", ":scheme", "http", ":path", "/", "", "1"]],
      ["colon in name", [":method", "GET", ":scheme", "http", ":path", "/", "x:y", "1"]],
      ["LF in value", [":method", "GET", ":scheme", "http", ":path", "/", "x-v", "a\nb"]],
      ["CR in value", [":method", "GET", ":scheme", "http", ":path", "/", "x-v", "a\rb"]],
      ["NUL in value", [":method", "GET", ":scheme", "http", ":path", "/", "x-v", "a\0b"]],
      ["leading space in value", [":method", "GET", ":scheme", "http", ":path", "/", "x-v", " a"]],
      ["path not absolute", [":method", "GET", ":scheme", "http", ":path", "x/y"]],
    ];
    const raw = await Raw.connect(server.port);
    try {
      const handled = server.streams.length;
      let id = 1;
      for (const [what, fields] of bad) {
        raw.send(headersFrame(id, encodeHeaders(fields)));
        assert.equal(await raw.rst(id), PROTOCOL_ERROR, what);
        id += 2;
      }
      assert.equal(server.streams.length, handled, "the handler saw a malformed request");
      raw.send(headersFrame(id, requestBlock("/bytes?n=4", ["te", "trailers", "x-ok", "a b"])));
      const r = await raw.ended(id);
      assert.equal(r.status, "200");
      assert.equal(r.body.length, 4);
    } finally {
      raw.close();
    }
  });

  test("PING flood → ENHANCE_YOUR_CALM", async () => {
    const pings = Buffer.concat(Array.from({ length: 5000 }, () => frame(PING, 0, 0, Buffer.alloc(8))));
    const raw = await expectGoaway([pings], ENHANCE_YOUR_CALM);
    assert.ok(raw.frames.filter((f) => f.type === PING).length <= 1001);
  });

  test("SETTINGS flood → ENHANCE_YOUR_CALM", async () => {
    await expectGoaway([Buffer.concat(Array.from({ length: 5000 }, () => settings()))], ENHANCE_YOUR_CALM);
  });

  test("rapid reset (open + RST_STREAM × 5000) → ENHANCE_YOUR_CALM, handler work bounded", async () => {
    const before = server.streams.length;
    const block = requestBlock("/hold");
    const parts: Buffer[] = [];
    for (let i = 0; i < 5000; i++) {
      const id = 1 + 2 * i;
      parts.push(headersFrame(id, block, false), frame(RST_STREAM, 0, id, u32(CANCEL)));
    }
    await expectGoaway([Buffer.concat(parts)], ENHANCE_YOUR_CALM);
    const handled = server.streams.length - before;
    assert.ok(handled <= 1001, `handler ran ${handled} times`);
  });

  test("a stream error flood (malformed requests) → ENHANCE_YOUR_CALM", async () => {
    const block = encodeHeaders([":method", "GET"]);
    const parts: Buffer[] = [];
    for (let i = 0; i < 5000; i++) parts.push(headersFrame(1 + 2 * i, block));
    await expectGoaway([Buffer.concat(parts)], ENHANCE_YOUR_CALM);
  });
});

/** A socket whose peer reads only while `reading`: writes complete (call back) only then. */
class FakeSocket extends Duplex {
  reading = true;
  readonly out: Buffer[] = [];
  private pending: (() => void)[] = [];
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.out.push(chunk);
    if (this.reading) cb();
    else this.pending.push(() => cb());
  }
  flushOut(): this {
    this.reading = true;
    const p = this.pending;
    this.pending = [];
    for (const cb of p) cb();
    return this;
  }
  feed(...b: Buffer[]): void {
    this.emit("data", Buffer.concat(b));
  }
  frames(): Frame[] {
    const b = Buffer.concat(this.out);
    const out: Frame[] = [];
    for (let p = 0; p + 9 <= b.length; ) {
      const len = b.readUIntBE(p, 3);
      out.push({
        type: b[p + 3]!,
        flags: b[p + 4]!,
        id: b.readUInt32BE(p + 5),
        payload: b.subarray(p + 9, p + 9 + len),
      });
      p += 9 + len;
    }
    return out;
  }
}

describe("a peer that does not read", () => {
  const session = (fake: FakeSocket): H2Session =>
    new H2Session(fake as unknown as net.Socket, { onStream: testHandler });

  test("replies it provokes but never reads are bounded: ENHANCE_YOUR_CALM", async () => {
    const fake = new FakeSocket();
    const s = session(fake);
    // 1,100 streams that end normally; DATA on a closed stream earns a RST_STREAM (not counted
    // as a flood: a client's last DATA may cross our reset) — once per stream while the server
    // remembers the reset, so cycle through more streams than it remembers.
    const block = requestBlock("/bytes?n=1");
    fake.feed(HELLO, ...Array.from({ length: 1100 }, (_, i) => headersFrame(1 + 2 * i, block)));
    await delay(1);
    assert.equal(s.streamCount, 0);
    fake.reading = false;
    const chunk = Buffer.concat(Array.from({ length: 1100 }, (_, i) => frame(DATA, 0, 1 + 2 * i)));
    let frames = 0;
    while (!s.closed && frames < 1_000_000) {
      fake.feed(chunk);
      frames += 1100;
    }
    assert.equal(s.closed, true, "never cut off");
    assert.ok(frames <= 20_000, `cut off after ${frames} frames`);
    fake.flushOut();
    await delay(1);
    const g = fake.frames().find((f) => f.type === GOAWAY);
    assert.equal(g?.payload.readUInt32BE(4), ENHANCE_YOUR_CALM);
    fake.destroy();
  });

  test("a slow reader of a large response may still PING (the reply limit counts only replies)", async () => {
    const fake = new FakeSocket();
    const s = session(fake);
    fake.reading = false;
    fake.feed(
      HELLO,
      settings([S_INITIAL_WINDOW_SIZE, 16 << 20]),
      frame(WINDOW_UPDATE, 0, 0, u32(16 << 20)),
      headersFrame(1, requestBlock("/bytes?n=4000000")),
    );
    await delay(1);
    assert.ok(fake.writableLength > 3_000_000, `${fake.writableLength} bytes queued`);
    for (let i = 0; i < 50; i++) fake.feed(frame(PING, 0, 0, Buffer.alloc(8, i)));
    assert.equal(s.closed, false);
    fake.flushOut();
    await delay(1);
    assert.equal(fake.frames().filter((f) => f.type === PING && f.flags === ACK).length, 50);
    assert.equal(
      fake
        .frames()
        .filter((f) => f.type === DATA)
        .reduce((n, f) => n + f.payload.length, 0),
      4_000_000,
    );
    s.destroy();
    fake.destroy();
  });
});

describe("send-side flow control, seen frame by frame", () => {
  let server: Server;
  before(async () => {
    server = await startServer(testHandler);
  });
  after(async () => {
    await server.close();
  });

  test("stream and connection windows, a SETTINGS decrease to a negative window, and resumption", async () => {
    const raw = await Raw.connect(
      server.port,
      Buffer.concat([PREFACE, settings([S_INITIAL_WINDOW_SIZE, 70_000])]),
    );
    try {
      raw.send(headersFrame(1, requestBlock("/bytes?n=200000")));
      const data = (): number => raw.dataBytes(1);
      await raw.until(() => (data() >= 65_535 ? true : undefined), "first window");
      await raw.sync();
      assert.equal(data(), 65_535, "limited by the connection window");
      raw.send(frame(WINDOW_UPDATE, 0, 0, u32(10_000)));
      await raw.sync();
      assert.equal(data(), 70_000, "limited by the stream window");
      raw.send(frame(WINDOW_UPDATE, 0, 1, u32(20_000)));
      await raw.sync();
      assert.equal(data(), 75_535, "limited by the connection window again");
      // Both windows are now limits: connection 0, stream 14,465. A SETTINGS decrease makes the
      // stream window negative (RFC 9113 §6.9.2): −5,535.
      raw.send(settings([S_INITIAL_WINDOW_SIZE, 50_000]));
      raw.send(frame(WINDOW_UPDATE, 0, 0, u32(100_000)));
      await raw.sync();
      assert.equal(data(), 75_535, "nothing may be sent on a negative window");
      raw.send(frame(WINDOW_UPDATE, 0, 1, u32(6_535)));
      await raw.sync();
      assert.equal(data(), 76_535, "1,000 bytes of window");
      // The stream is stalled on its own window; a SETTINGS increase must resume it.
      raw.send(settings([S_INITIAL_WINDOW_SIZE, 150_000]));
      await raw.sync();
      assert.equal(data(), 175_535, "resumed by SETTINGS, up to the connection window");
      raw.send(frame(WINDOW_UPDATE, 0, 0, u32(100_000)));
      raw.send(frame(WINDOW_UPDATE, 0, 1, u32(100_000)));
      const r = await raw.ended(1);
      assert.equal(r.body.length, 200_000);
      assert.ok(r.body.equals(pattern(200_000)));
      assert.equal(r.trailers?.[1], "0", "grpc-status trailer");
      for (const f of raw.frames) if (f.type === DATA) assert.ok(f.payload.length <= 16_384);
    } finally {
      raw.close();
    }
  });

  test("the connection window is shared fairly between blocked streams", async () => {
    const raw = await Raw.connect(
      server.port,
      Buffer.concat([PREFACE, settings([S_INITIAL_WINDOW_SIZE, 1 << 20])]),
    );
    try {
      raw.send(headersFrame(1, requestBlock("/bytes?n=500000")));
      await raw.until(() => (raw.dataBytes(1) >= 65_535 ? true : undefined), "first window");
      raw.send(headersFrame(3, requestBlock("/bytes?n=500000")));
      await raw.sync();
      raw.send(frame(WINDOW_UPDATE, 0, 0, u32(200_000)));
      await raw.sync();
      assert.equal(raw.dataBytes(1) + raw.dataBytes(3), 265_535);
      assert.ok(raw.dataBytes(3) >= 50_000, `stream 3 got ${raw.dataBytes(3)} bytes`);
    } finally {
      raw.close();
    }
  });

  test("a stream the peer resets while its response is queued never writes again", async () => {
    const raw = await Raw.connect(
      server.port,
      Buffer.concat([PREFACE, settings([S_INITIAL_WINDOW_SIZE, 0])]),
    );
    try {
      const before = server.streams.length;
      raw.send(headersFrame(1, requestBlock("/bytes?n=5000")));
      await raw.frame((f) => f.type === HEADERS && f.id === 1, "response headers");
      const stream = server.streams[before]!;
      const closed = once(stream, "close");
      raw.send(frame(RST_STREAM, 0, 1, u32(CANCEL)));
      await withTimeout(closed, 3000, "stream close");
      assert.equal(stream.rstCode, CANCEL);
      assert.equal(stream.destroyed, true);
      const n = raw.frames.length;
      raw.send(settings([S_INITIAL_WINDOW_SIZE, 65_535]), frame(WINDOW_UPDATE, 0, 0, u32(100_000)));
      raw.send(frame(WINDOW_UPDATE, 0, 1, u32(1000)));
      await raw.sync();
      const after = raw.frames.slice(n).filter((f) => f.id === 1);
      assert.deepEqual(after, []);
      stream.write(Buffer.from("late"));
      stream.end(Buffer.from("late"));
      stream.sendTrailers({ a: 1 });
      stream.close();
      await raw.sync();
      assert.deepEqual(
        raw.frames.slice(n).filter((f) => f.id === 1),
        [],
      );
    } finally {
      raw.close();
    }
    // The same for a stream waiting for the connection window (not its own).
    const raw2 = await Raw.connect(
      server.port,
      Buffer.concat([PREFACE, settings([S_INITIAL_WINDOW_SIZE, 1 << 20])]),
    );
    try {
      raw2.send(headersFrame(1, requestBlock("/bytes?n=100000")));
      await raw2.until(() => (raw2.dataBytes(1) >= 65_535 ? true : undefined), "the connection window");
      raw2.send(frame(RST_STREAM, 0, 1, u32(CANCEL)));
      await raw2.sync();
      const n = raw2.frames.length;
      raw2.send(frame(WINDOW_UPDATE, 0, 0, u32(100_000)));
      await raw2.sync();
      assert.deepEqual(
        raw2.frames.slice(n).filter((f) => f.id === 1),
        [],
      );
    } finally {
      raw2.close();
    }
  });

  test("a response ended before the request body: END_STREAM, then RST_STREAM NO_ERROR", async () => {
    const raw = await Raw.connect(server.port);
    try {
      raw.send(headersFrame(1, requestBlock("/nope", [], "POST"), false));
      const rst = await raw.rst(1);
      assert.equal(rst, NO_ERROR);
      assert.equal(raw.response(1).status, "404");
      assert.equal(raw.response(1).ended, true);
      // A request that ends with its HEADERS is answered without a reset.
      raw.send(headersFrame(3, requestBlock("/nope")));
      await raw.ended(3);
      await raw.sync();
      assert.equal(raw.frames.filter((f) => f.type === RST_STREAM && f.id === 3).length, 0);
      // Frames the peer had in flight for the reset stream are ignored (RFC 9113 §5.1).
      raw.send(frame(DATA, 0, 1, Buffer.from("late")), headersFrame(1, encodeHeaders(["x-trailer", "1"])));
      raw.send(headersFrame(5, requestBlock("/bytes?n=1")));
      await raw.ended(5);
      assert.equal(raw.frames.filter((f) => f.type === RST_STREAM).length, 1);
      // DATA on a stream that ended normally is a stream error (STREAM_CLOSED).
      raw.send(frame(DATA, 0, 5, Buffer.from("late")));
      assert.equal(await raw.rst(5), STREAM_CLOSED);
    } finally {
      raw.close();
    }
  });

  test("socket closed with streams open and responses queued: streams close, nothing throws", async () => {
    await noUncaught(async () => {
      const s = await startServer(testHandler);
      try {
        const raw = await Raw.connect(s.port, Buffer.concat([PREFACE, settings([S_INITIAL_WINDOW_SIZE, 0])]));
        raw.send(
          headersFrame(1, requestBlock("/hold"), false),
          headersFrame(3, requestBlock("/bytes?n=5000")),
        );
        await until(() => s.streams[1], "streams");
        const closes = s.streams.map((st) => once(st, "close"));
        let sessionCloses = 0;
        s.sessions[0]!.on("close", () => sessionCloses++);
        raw.socket.resetAndDestroy();
        await withTimeout(Promise.all(closes), 3000, "stream closes");
        for (const st of s.streams) {
          assert.equal(st.destroyed, true);
          assert.equal(st.rstCode, CANCEL);
          st.end(Buffer.from("after"));
        }
        assert.equal(s.sessions[0]!.closed, true);
        assert.equal(sessionCloses, 1);
        s.sessions[0]!.destroy();
        s.sessions[0]!.close();
        assert.equal(sessionCloses, 1);
      } finally {
        await s.close();
      }
    });
  });

  test("after our GOAWAY new streams are refused, old ones finish, then the socket ends", async () => {
    const s = await startServer(testHandler);
    try {
      const raw = await Raw.connect(s.port);
      raw.send(headersFrame(1, requestBlock("/wait")));
      await until(() => s.streams[0], "stream 1");
      s.sessions[0]!.close();
      const g = await raw.frame((f) => f.type === GOAWAY, "GOAWAY");
      assert.equal(g.payload.readUInt32BE(0), 1);
      assert.equal(g.payload.readUInt32BE(4), NO_ERROR);
      raw.send(headersFrame(3, requestBlock("/bytes?n=1")));
      assert.equal(await raw.rst(3), REFUSED_STREAM);
      assert.equal(s.streams.length, 1);
      waiting.shift()!();
      const r = await raw.ended(1);
      assert.equal(r.body.toString(), "ok");
      await raw.until(() => (raw.closed ? true : undefined), "socket end");
      assert.equal(s.sessions[0]!.closed, true);
    } finally {
      waiting.length = 0;
      await s.close();
    }
  });
});

describe("requestHeaders", () => {
  test("joins cookies, keeps repeated fields as arrays, rejects what RFC 9113 §8.2–8.3 rejects", () => {
    const h = requestHeaders([
      ":method",
      "OPTIONS",
      ":scheme",
      "https",
      ":path",
      "*",
      "a",
      "1",
      "a",
      "2",
      "a",
      "3",
    ]);
    assert.deepEqual(h?.a, ["1", "2", "3"]);
    assert.equal(requestHeaders([":method", "GET", ":scheme", "https", ":path", "*"]), undefined);
    assert.equal(requestHeaders([":method", "GET", ":scheme", "http", ":path", "/", "x", "a b"])?.x, "a b");
    assert.equal(
      requestHeaders([":method", "GET", ":scheme", "http", ":path", "/", "x", "a\tb "]),
      undefined,
    );
  });
});

describe("fuzz", () => {
  test("mutated frame sequences never throw; each connection answers PING or is closed", async () => {
    let handled = 0;
    const s = await startServer(
      (stream, headers) => {
        handled++;
        testHandler(stream, headers);
      },
      { maxConcurrentStreams: 20, maxHeaderListSize: 8192 },
    );
    const rnd = seededRandom(0x5eed);
    const int = (n: number): number => Math.floor(rnd() * n);
    /** A plausible sequence: streams opened in order, then frames mostly on open streams. */
    const valid = (): Buffer[] => {
      const out: Buffer[] = [];
      let next = 1;
      const open = (): number => {
        const id = next;
        next += 2;
        const path = ["/echo", "/echo-slow", "/bytes?n=20000", "/hold", "/wait", "/count"][int(6)]!;
        const block = requestBlock(path, rnd() < 0.3 ? ["x-a", "b".repeat(int(3000))] : []);
        const end = rnd() < 0.4 ? END_STREAM : 0;
        if (rnd() < 0.3 && block.length > 4) {
          out.push(frame(HEADERS, end, id, block.subarray(0, 4)));
          out.push(frame(CONTINUATION, END_HEADERS, id, block.subarray(4)));
        } else out.push(frame(HEADERS, END_HEADERS | end, id, block));
        return id;
      };
      const some = (): number => (next === 1 ? open() : 1 + 2 * int((next - 1) / 2));
      const n = 1 + int(14);
      for (let i = 0; i < n; i++) {
        const k = int(14);
        if (k < 3) open();
        else if (k < 6)
          out.push(frame(DATA, rnd() < 0.3 ? END_STREAM : 0, some(), Buffer.alloc(int(3000), 0x61)));
        else if (k === 6) out.push(frame(DATA, PADDED | END_STREAM, some(), Buffer.from([2, 1, 2, 3])));
        else if (k === 7) out.push(frame(WINDOW_UPDATE, 0, int(2) * some(), u32(1 + int(100_000))));
        else if (k === 8) out.push(frame(RST_STREAM, 0, some(), u32(int(14))));
        else if (k === 9) out.push(frame(PRIORITY, 0, some(), Buffer.from([0, 0, 0, 0, 9])));
        else if (k === 10) out.push(frame(PING, 0, 0, Buffer.alloc(8)));
        else if (k === 11) out.push(settings([S_INITIAL_WINDOW_SIZE, int(70_000)], [1, int(8192)]));
        else if (k === 12)
          out.push(frame(0xa + int(200), int(256), int(12), Buffer.alloc(int(20), int(256))));
        else if (rnd() < 0.2) out.push(frame(GOAWAY, 0, 0, Buffer.alloc(8)));
      }
      return out;
    };
    const mutate = (b: Buffer): Buffer => {
      const out = Buffer.from(b);
      const k = int(6);
      if (out.length === 0) return out;
      if (k === 0)
        out[int(out.length)] = int(256); // flip a byte
      else if (k === 1)
        out[int(Math.min(3, out.length))] = int(256); // length
      else if (k === 2 && out.length > 3)
        out[3] = int(12); // type
      else if (k === 3 && out.length > 4)
        out[4] = int(256); // flags
      else if (k === 4 && out.length > 8)
        out[8] = int(16); // stream id
      else if (k === 5) return out.subarray(0, int(out.length)); // truncate
      return out;
    };
    /** Whether the bytes are whole frames (or reach a frame the server must reject for its size). */
    const aligned = (b: Buffer): boolean => {
      let p = 0;
      while (p + 9 <= b.length) {
        const len = b.readUIntBE(p, 3);
        if (len > 16_384) return true;
        p += 9 + len;
      }
      return p === b.length;
    };
    let answered = 0;
    const one = async (): Promise<void> => {
      const raw = await Raw.connect(s.port);
      try {
        const frames = valid().map((f) => (rnd() < 0.08 ? mutate(f) : f));
        if (rnd() < 0.2) frames.push(Buffer.from(Array.from({ length: int(64) }, () => int(256))));
        const bytes = Buffer.concat(frames);
        raw.send(bytes);
        // Whole frames: the PING after them must be answered, or the connection closed.
        // Otherwise the PING may be taken as part of an unfinished frame: open or closed is fine.
        const ok = await raw.sync(aligned(bytes) ? 2000 : 300).then(
          () => true,
          () => false,
        );
        if (ok) answered++;
        else if (aligned(bytes)) assert.ok(raw.closed, "neither closed nor answering PING");
      } finally {
        raw.close();
      }
    };
    await noUncaught(async () => {
      const t0 = Date.now();
      for (let round = 0; round < 20; round++) await Promise.all(Array.from({ length: 15 }, one));
      assert.ok(Date.now() - t0 < 15_000, "fuzz took too long");
    });
    while (waiting.length > 0) waiting.shift()!();
    await s.close();
    assert.ok(handled > 0);
    assert.ok(answered > 30, `only ${answered} connections survived to answer a PING`);
  });
});

describe("connect's handlers on H2Session (src/h2/connect.ts)", () => {
  test("a Connect unary call is answered; names HTTP/2 allows but Headers refuses are dropped, not fatal", async () => {
    const state = new HealthState(["svc"]);
    const router = createConnectRouter();
    router.service(Health, createHealthService(state));
    const srv = await startServer(connectStreamHandler(router.handlers));
    try {
      const raw = await Raw.connect(srv.port);
      const block = requestBlock(
        "/grpc.health.v1.Health/Check",
        ["content-type", "application/json", "x(y", "1", "x-ok", "2"],
        "POST",
      );
      raw.send(headersFrame(1, block, false), frame(DATA, END_STREAM, 1, Buffer.from('{"service":"svc"}')));
      const r = await raw.ended(1);
      assert.equal(r.status, "200");
      assert.deepEqual(JSON.parse(r.body.toString()), { status: "SERVING" });
      // An unknown path: 404, the connection stays.
      raw.send(headersFrame(3, requestBlock("/nope", [], "POST")));
      assert.equal((await raw.ended(3)).status, "404");
      raw.socket.destroy();
    } finally {
      await srv.close();
    }
  });
});
