/**
 * A server-side HTTP/2 connection (RFC 9113) on a socket, in JavaScript: frames, stream states,
 * flow control both ways, HPACK (hpack.ts), graceful GOAWAY — what gosymd's gRPC and Connect
 * calls over cleartext HTTP/2 need, and no more (no server push, no priorities: PRIORITY frames
 * and fields are read and ignored, as RFC 9113 allows).
 *
 * Why not node:http2: every stream there is a C++ object wrapping nghttp2 state, held from the
 * native side until a major GC, and every request header value is an external string finalized
 * only by one — at thousands of calls a second, the major GC's pauses (10–16 ms) were the p99
 * latency of 100-address Symbolize calls (measured: `npm run bench -- rpc`). Here a call's
 * objects are plain JavaScript that dies young.
 *
 * Everything the peer sends is checked: frame sizes and types, stream ids and states, header
 * blocks (size, CONTINUATION sequence, HPACK), flow-control windows, SETTINGS values. A
 * connection error sends GOAWAY with its code and closes; a stream error resets that stream.
 * Floods are bounded: resets, pings and settings per second, queued control replies, header
 * block bytes, concurrent streams.
 */
import { EventEmitter } from "node:events";
import type net from "node:net";
import { encodeHeaders, HpackDecoder } from "./hpack.js";

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

// Frame types (RFC 9113 §6).
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

// Flags.
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY_FLAG = 0x20;

/** Error codes (RFC 9113 §7). */
export const H2Code = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  ENHANCE_YOUR_CALM: 0xb,
} as const;

// SETTINGS parameters.
const S_HEADER_TABLE_SIZE = 0x1;
const S_ENABLE_PUSH = 0x2;
const S_MAX_CONCURRENT_STREAMS = 0x3;
const S_INITIAL_WINDOW_SIZE = 0x4;
const S_MAX_FRAME_SIZE = 0x5;
const S_MAX_HEADER_LIST_SIZE = 0x6;

const DEFAULT_WINDOW = 65_535;
const MAX_WINDOW = 2 ** 31 - 1;
/** Our SETTINGS_MAX_FRAME_SIZE: the default (larger frames would only save headers on uploads). */
const MAX_FRAME = 16_384;
/** HPACK dynamic table we allow the peer's encoder (the default). */
const HEADER_TABLE_SIZE = 4096;

export interface SessionOptions {
  /** A new stream with its request headers (already validated); END_STREAM comes as "end". */
  onStream(stream: H2Stream, headers: H2Headers): void;
  /** SETTINGS_MAX_CONCURRENT_STREAMS we announce and enforce. */
  maxConcurrentStreams?: number;
  /** Receive window per stream (SETTINGS_INITIAL_WINDOW_SIZE). */
  streamWindow?: number;
  /** Receive window of the connection. */
  connectionWindow?: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE we announce and enforce (decoded size, RFC 9113 §6.5.2). */
  maxHeaderListSize?: number;
  /** `onStream` threw (a bug): the stream was reset with INTERNAL_ERROR; for logging. */
  onHandlerError?(error: unknown): void;
}

/** Request headers: lowercase names; repeated fields as arrays (cookie joined with "; "). */
export type H2Headers = Record<string, string | string[] | undefined>;

/** A connection-level error: GOAWAY with `code`. */
class ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Resets, pings and settings frames a peer may send per second before it is told to calm down. */
const FLOOD_PER_SECOND = 1000;
/** Control replies (SETTINGS/PING acks, resets) allowed to queue unsent before the peer is cut off. */
const MAX_QUEUED_CONTROL = 10_000;
/** Their bytes (a PING ack is 17). */
const MAX_QUEUED_CONTROL_BYTES = MAX_QUEUED_CONTROL * 17;
/** Stream ids we reset that are remembered, so that frames the peer had in flight are ignored. */
const RECENTLY_RESET = 1024;

export class H2Session extends EventEmitter {
  private readonly streams = new Map<number, H2Stream>();
  private readonly decoder: HpackDecoder;
  private buf: Buffer = Buffer.alloc(0);
  private prefaceDone = false;
  private settingsSeen = false;
  /** Highest client stream id seen (every lower idle id is now closed). */
  private lastStreamId = 0;
  /** Header block being collected: its stream id (0: none), flags of its HEADERS, fragments. */
  private blockStream = 0;
  private blockFlags = 0;
  private blockParts: Buffer[] = [];
  private blockBytes = 0;
  // Flow control.
  private connSendWindow = DEFAULT_WINDOW;
  /** The peer's SETTINGS_INITIAL_WINDOW_SIZE: a new stream's send window. */
  peerStreamWindow = DEFAULT_WINDOW;
  peerMaxFrame = 16_384;
  private connRecvWindow: number;
  private connRecvUnacked = 0;
  /** Streams with data and stream window, waiting for connection window (served round-robin). */
  private readonly blocked = new Set<H2Stream>();
  /** Streams with data waiting for their own window (a WINDOW_UPDATE or a SETTINGS increase). */
  private readonly stalled = new Set<H2Stream>();
  /** Streams we reset lately (oldest first): frames on them are ignored (RFC 9113 §5.1, closed). */
  private readonly recentlyReset = new Set<number>();
  /** Bytes of control replies written but not yet flushed to the kernel (see `control`). */
  private controlPending = 0;
  /**
   * The peer changed SETTINGS_HEADER_TABLE_SIZE: our next header block starts with a dynamic
   * table size update (RFC 7541 §4.2; nghttp2 rejects blocks without one after a decrease).
   */
  private tableSizeUpdate = false;
  // Limits and state.
  readonly maxConcurrent: number;
  readonly streamWindow: number;
  private readonly maxHeaderList: number;
  /** Our connection receive window as announced (never below the protocol's initial 65,535). */
  private readonly connWindow: number;
  private floodWindowStart = 0;
  private floodCount = 0;
  private corked = false;
  /** GOAWAY sent: the last stream id we will serve (−1: not sent). */
  private goawayId = -1;
  private peerGoaway = false;
  closed = false;

  constructor(
    readonly socket: net.Socket,
    private readonly opts: SessionOptions,
  ) {
    super();
    this.maxConcurrent = opts.maxConcurrentStreams ?? 1000;
    this.streamWindow = opts.streamWindow ?? 4 * 1024 * 1024;
    // The connection window can only be raised from 65,535 (WINDOW_UPDATE), never lowered.
    this.connWindow = Math.max(DEFAULT_WINDOW, opts.connectionWindow ?? 16 * 1024 * 1024);
    this.connRecvWindow = this.connWindow;
    this.maxHeaderList = opts.maxHeaderListSize ?? 64 * 1024;
    this.decoder = new HpackDecoder({
      maxTableSize: HEADER_TABLE_SIZE,
      maxHeaderListSize: this.maxHeaderList,
    });
    // Server preface: our SETTINGS, then the connection window raised from the default.
    const s = Buffer.allocUnsafe(18);
    s.writeUInt16BE(S_MAX_CONCURRENT_STREAMS, 0);
    s.writeUInt32BE(this.maxConcurrent, 2);
    s.writeUInt16BE(S_INITIAL_WINDOW_SIZE, 6);
    s.writeUInt32BE(this.streamWindow, 8);
    s.writeUInt16BE(S_MAX_HEADER_LIST_SIZE, 12);
    s.writeUInt32BE(this.maxHeaderList, 14);
    this.control(SETTINGS, 0, 0, s);
    if (this.connRecvWindow > DEFAULT_WINDOW) this.windowUpdate(0, this.connRecvWindow - DEFAULT_WINDOW);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", () => this.destroy());
    socket.on("close", () => this.destroy());
    socket.on("end", () => this.destroy());
  }

  /** Streams open now. */
  get streamCount(): number {
    return this.streams.size;
  }

  // ---- Reading --------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    try {
      this.parse();
    } catch (e) {
      if (e instanceof ConnectionError) this.fail(e.code, e.message);
      else this.fail(H2Code.INTERNAL_ERROR, "internal error");
    }
  }

  private parse(): void {
    const b = this.buf;
    let p = 0;
    if (!this.prefaceDone) {
      const n = Math.min(b.length, PREFACE.length);
      if (!b.subarray(0, n).equals(PREFACE.subarray(0, n))) {
        throw new ConnectionError(H2Code.PROTOCOL_ERROR, "bad connection preface");
      }
      if (n < PREFACE.length) return;
      p = PREFACE.length;
      this.prefaceDone = true;
    }
    while (!this.closed && b.length - p >= 9) {
      const len = (b[p]! << 16) | (b[p + 1]! << 8) | b[p + 2]!;
      const type = b[p + 3]!;
      const flags = b[p + 4]!;
      const id = b.readUInt32BE(p + 5) & 0x7fffffff;
      if (len > MAX_FRAME)
        throw new ConnectionError(H2Code.FRAME_SIZE_ERROR, "frame larger than SETTINGS_MAX_FRAME_SIZE");
      if (b.length - p - 9 < len) break;
      const payload = b.subarray(p + 9, p + 9 + len);
      p += 9 + len;
      this.onFrame(type, flags, id, payload);
    }
    this.buf = p === b.length ? Buffer.alloc(0) : b.subarray(p);
    this.maybeAckConnection();
  }

  private onFrame(type: number, flags: number, id: number, payload: Buffer): void {
    if (!this.settingsSeen && type !== SETTINGS) {
      throw new ConnectionError(H2Code.PROTOCOL_ERROR, "the client preface must start with SETTINGS");
    }
    if (this.blockStream !== 0 && (type !== CONTINUATION || id !== this.blockStream)) {
      throw new ConnectionError(H2Code.PROTOCOL_ERROR, "header block interrupted");
    }
    switch (type) {
      case DATA:
        this.onDataFrame(flags, id, payload);
        return;
      case HEADERS:
        this.onHeaders(flags, id, payload);
        return;
      case PRIORITY:
        if (id === 0) throw new ConnectionError(H2Code.PROTOCOL_ERROR, "PRIORITY on stream 0");
        if (payload.length !== 5) this.streamError(id, H2Code.FRAME_SIZE_ERROR);
        return;
      case RST_STREAM:
        this.onReset(id, payload);
        return;
      case SETTINGS:
        this.onSettings(flags, id, payload);
        return;
      case PUSH_PROMISE:
        throw new ConnectionError(H2Code.PROTOCOL_ERROR, "PUSH_PROMISE from a client");
      case PING:
        if (id !== 0) throw new ConnectionError(H2Code.PROTOCOL_ERROR, "PING on a stream");
        if (payload.length !== 8) throw new ConnectionError(H2Code.FRAME_SIZE_ERROR, "PING not 8 bytes");
        if ((flags & ACK) === 0) {
          this.flood();
          this.control(PING, ACK, 0, payload);
        }
        return;
      case GOAWAY:
        if (id !== 0) throw new ConnectionError(H2Code.PROTOCOL_ERROR, "GOAWAY on a stream");
        if (payload.length < 8)
          throw new ConnectionError(H2Code.FRAME_SIZE_ERROR, "GOAWAY shorter than 8 bytes");
        this.peerGoaway = true;
        this.endIfIdle();
        return;
      case WINDOW_UPDATE:
        this.onWindowUpdate(id, payload);
        return;
      case CONTINUATION:
        if (this.blockStream === 0)
          throw new ConnectionError(H2Code.PROTOCOL_ERROR, "CONTINUATION without HEADERS");
        this.addFragment(payload);
        if ((flags & END_HEADERS) !== 0) this.endBlock();
        return;
      default:
        return; // unknown frame types are ignored (RFC 9113 §4.1)
    }
  }

  private flood(): void {
    const now = performance.now();
    if (now - this.floodWindowStart > 1000) {
      this.floodWindowStart = now;
      this.floodCount = 0;
    }
    if (++this.floodCount > FLOOD_PER_SECOND) {
      throw new ConnectionError(H2Code.ENHANCE_YOUR_CALM, "too many control frames");
    }
    this.checkQueue();
  }

  /**
   * A peer that makes us reply (acks, resets) without reading the replies is cut off. Only the
   * replies count: the socket's whole writableLength also holds response DATA, which a slow but
   * honest client (sending a keepalive PING during a large download) may leave queued.
   */
  private checkQueue(): void {
    if (this.controlPending > MAX_QUEUED_CONTROL_BYTES) {
      throw new ConnectionError(H2Code.ENHANCE_YOUR_CALM, "control replies not being read");
    }
  }

  /** A stream error caused by the peer: counted as a flood (each costs us a reply), then reset. */
  private streamError(id: number, code: number): void {
    this.flood();
    this.resetStream(id, code);
  }

  private onSettings(flags: number, id: number, payload: Buffer): void {
    if (id !== 0) throw new ConnectionError(H2Code.PROTOCOL_ERROR, "SETTINGS on a stream");
    if ((flags & ACK) !== 0) {
      if (payload.length !== 0)
        throw new ConnectionError(H2Code.FRAME_SIZE_ERROR, "SETTINGS ack with a payload");
      return;
    }
    if (payload.length % 6 !== 0)
      throw new ConnectionError(H2Code.FRAME_SIZE_ERROR, "SETTINGS length not a multiple of 6");
    if (this.settingsSeen) this.flood();
    this.settingsSeen = true;
    for (let i = 0; i < payload.length; i += 6) {
      const key = payload.readUInt16BE(i);
      const v = payload.readUInt32BE(i + 2);
      switch (key) {
        case S_ENABLE_PUSH:
          if (v > 1) throw new ConnectionError(H2Code.PROTOCOL_ERROR, "SETTINGS_ENABLE_PUSH not 0 or 1");
          break;
        case S_INITIAL_WINDOW_SIZE: {
          if (v > MAX_WINDOW)
            throw new ConnectionError(H2Code.FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE too large");
          const delta = v - this.peerStreamWindow;
          this.peerStreamWindow = v;
          // A decrease may leave windows negative (RFC 9113 §6.9.2): those streams wait for
          // WINDOW_UPDATEs; an increase may resume streams stalled on their own window.
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW)
              throw new ConnectionError(H2Code.FLOW_CONTROL_ERROR, "stream window overflow");
          }
          if (delta > 0) this.unstall();
          break;
        }
        case S_MAX_FRAME_SIZE:
          if (v < 16_384 || v > 16_777_215)
            throw new ConnectionError(H2Code.PROTOCOL_ERROR, "SETTINGS_MAX_FRAME_SIZE out of range");
          this.peerMaxFrame = v;
          break;
        case S_HEADER_TABLE_SIZE:
          // Our encoder never uses the dynamic table, but must still say so after a change.
          this.tableSizeUpdate = true;
          break;
        default:
          // S_MAX_CONCURRENT_STREAMS: we never push; S_MAX_HEADER_LIST_SIZE: our responses
          // are small and fixed; unknown settings are ignored (RFC 9113 §6.5.2).
          break;
      }
    }
    this.control(SETTINGS, ACK, 0, EMPTY);
    this.flushBlocked();
  }

  private onWindowUpdate(id: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ConnectionError(H2Code.FRAME_SIZE_ERROR, "WINDOW_UPDATE not 4 bytes");
    const inc = payload.readUInt32BE(0) & 0x7fffffff;
    if (id === 0) {
      if (inc === 0) throw new ConnectionError(H2Code.PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
      this.connSendWindow += inc;
      if (this.connSendWindow > MAX_WINDOW)
        throw new ConnectionError(H2Code.FLOW_CONTROL_ERROR, "connection window overflow");
      this.flushBlocked();
      return;
    }
    if (this.isIdle(id)) throw new ConnectionError(H2Code.PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream");
    const s = this.streams.get(id);
    if (s === undefined) return; // closed: ignored
    if (inc === 0) {
      this.streamError(id, H2Code.PROTOCOL_ERROR);
      return;
    }
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) {
      this.streamError(id, H2Code.FLOW_CONTROL_ERROR);
      return;
    }
    this.stalled.delete(s);
    s.flush();
  }

  private onReset(id: number, payload: Buffer): void {
    if (id === 0) throw new ConnectionError(H2Code.PROTOCOL_ERROR, "RST_STREAM on stream 0");
    if (payload.length !== 4) throw new ConnectionError(H2Code.FRAME_SIZE_ERROR, "RST_STREAM not 4 bytes");
    if (this.isIdle(id)) throw new ConnectionError(H2Code.PROTOCOL_ERROR, "RST_STREAM on an idle stream");
    this.flood();
    const s = this.streams.get(id);
    if (s !== undefined) s.destroyFromPeer(payload.readUInt32BE(0));
  }

  private onDataFrame(flags: number, id: number, payload: Buffer): void {
    if (id === 0) throw new ConnectionError(H2Code.PROTOCOL_ERROR, "DATA on stream 0");
    if (this.isIdle(id)) throw new ConnectionError(H2Code.PROTOCOL_ERROR, "DATA on an idle stream");
    // The whole frame counts against the windows, padding included (RFC 9113 §6.9.1).
    const n = payload.length;
    this.connRecvWindow -= n;
    if (this.connRecvWindow < 0)
      throw new ConnectionError(H2Code.FLOW_CONTROL_ERROR, "connection window exceeded");
    this.connRecvUnacked += n;
    const s = this.streams.get(id);
    if (s === undefined || s.remoteEnded) {
      // The bytes still count for the connection. On a stream we reset, the peer may have had
      // them in flight: ignored. Otherwise closed (or half-closed remote): a stream error, not
      // counted as a flood (a client's last DATA can cross our reset), but the replies are bounded.
      if (s === undefined && this.recentlyReset.has(id)) return;
      this.checkQueue();
      this.resetStream(id, H2Code.STREAM_CLOSED);
      return;
    }
    s.recvWindow -= n;
    if (s.recvWindow < 0) {
      this.streamError(id, H2Code.FLOW_CONTROL_ERROR);
      return;
    }
    let data = payload;
    if ((flags & PADDED) !== 0) {
      if (n < 1 || payload[0]! >= n)
        throw new ConnectionError(H2Code.PROTOCOL_ERROR, "padding longer than the frame");
      data = payload.subarray(1, n - payload[0]!);
    }
    if (data.length > 0) {
      if (!s.autoAck) s.hold(data.length);
      s.receive(data);
    }
    if ((flags & END_STREAM) !== 0) s.remoteEnd();
    else s.ackReceived(s.autoAck ? n : n - data.length);
  }

  private onHeaders(flags: number, id: number, payload: Buffer): void {
    if (id === 0 || (id & 1) === 0)
      throw new ConnectionError(H2Code.PROTOCOL_ERROR, "HEADERS on a stream a client cannot open");
    let p = 0;
    let end = payload.length;
    if ((flags & PADDED) !== 0) {
      if (end < 1) throw new ConnectionError(H2Code.PROTOCOL_ERROR, "padded HEADERS without a pad length");
      const pad = payload[0]!;
      p = 1;
      end -= pad;
    }
    if ((flags & PRIORITY_FLAG) !== 0) {
      if (payload.length >= p + 4 && (payload.readUInt32BE(p) & 0x7fffffff) === id) {
        throw new ConnectionError(H2Code.PROTOCOL_ERROR, "stream depends on itself");
      }
      p += 5;
    }
    if (p > end) throw new ConnectionError(H2Code.PROTOCOL_ERROR, "HEADERS padding longer than the frame");
    this.blockStream = id;
    this.blockFlags = flags;
    this.blockParts = [];
    this.blockBytes = 0;
    this.addFragment(payload.subarray(p, end));
    if ((flags & END_HEADERS) !== 0) this.endBlock();
  }

  private addFragment(f: Buffer): void {
    // The frame header counts too: empty CONTINUATION frames must not be an endless block either.
    this.blockBytes += 9 + f.length;
    // The encoded block may not be much larger than the decoded list we allow.
    if (this.blockBytes > 2 * this.maxHeaderList + 1024) {
      throw new ConnectionError(H2Code.ENHANCE_YOUR_CALM, "header block too large");
    }
    this.blockParts.push(f);
  }

  private endBlock(): void {
    const id = this.blockStream;
    const flags = this.blockFlags;
    const parts = this.blockParts;
    this.blockStream = 0;
    this.blockParts = [];
    const block = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    // Always decoded, even for a stream refused below: the HPACK state is the connection's.
    let fields: string[];
    let tooLarge = false;
    try {
      fields = this.decoder.decode(block);
    } catch (e) {
      if ((e as { kind?: string }).kind === "limit_exceeded") {
        fields = [];
        tooLarge = true;
      } else throw new ConnectionError(H2Code.COMPRESSION_ERROR, "header block does not decode");
    }
    const existing = this.streams.get(id);
    if (existing !== undefined) {
      // Trailers: must end the stream; after END_STREAM the stream is half-closed (remote).
      if (existing.remoteEnded) this.streamError(id, H2Code.STREAM_CLOSED);
      else if ((flags & END_STREAM) === 0) this.streamError(id, H2Code.PROTOCOL_ERROR);
      else existing.remoteEnd();
      return;
    }
    if (id <= this.lastStreamId) {
      if (this.recentlyReset.has(id)) return; // trailers the peer sent before seeing our reset
      throw new ConnectionError(H2Code.STREAM_CLOSED, "HEADERS on a closed stream");
    }
    this.lastStreamId = id;
    if (this.goawayId >= 0 || this.streams.size >= this.maxConcurrent) {
      // Not a flood: a client may open streams before it has read our SETTINGS.
      this.checkQueue();
      this.resetStream(id, H2Code.REFUSED_STREAM);
      return;
    }
    if (tooLarge) {
      this.streamError(id, H2Code.PROTOCOL_ERROR);
      return;
    }
    const headers = requestHeaders(fields);
    if (headers === undefined) {
      this.streamError(id, H2Code.PROTOCOL_ERROR);
      return;
    }
    const s = new H2Stream(this, id);
    this.streams.set(id, s);
    const ended = (flags & END_STREAM) !== 0;
    // Ended already, so a handler that answers at once does not reset the stream (maybeClose).
    if (ended) s.endPending = true;
    try {
      this.opts.onStream(s, headers);
    } catch (e) {
      // A handler's bug fails its stream, not the connection's other streams.
      if (!s.destroyed) this.resetStream(id, H2Code.INTERNAL_ERROR);
      this.opts.onHandlerError?.(e);
      return;
    }
    if (ended) s.remoteEnd();
  }

  /** A stream id the peer has not opened: above its last one, or even (we never push). */
  private isIdle(id: number): boolean {
    return id > this.lastStreamId || (id & 1) === 0;
  }

  /** Bytes received for readers that have not taken them yet (see H2Stream.autoAck). */
  private buffered = 0;

  /** Beyond this many such bytes the socket is not read until readers catch up. */
  private static readonly MAX_BUFFERED = 32 << 20;

  buffer(n: number): void {
    this.buffered += n;
    if (this.buffered > H2Session.MAX_BUFFERED && !this.socket.isPaused()) this.socket.pause();
  }

  unbuffer(n: number): void {
    this.buffered -= n;
    if (this.buffered <= H2Session.MAX_BUFFERED / 2 && this.socket.isPaused() && !this.closed)
      this.socket.resume();
  }

  /** Acknowledges received connection-level bytes once half the window is used. */
  private maybeAckConnection(): void {
    if (this.connRecvUnacked > 0 && this.connRecvUnacked >= this.connWindow / 4) {
      this.windowUpdate(0, this.connRecvUnacked);
      this.connRecvWindow += this.connRecvUnacked;
      this.connRecvUnacked = 0;
    }
  }

  // ---- Writing --------------------------------------------------------------------------------

  /** Writes one frame (header + payload); writes in one tick are sent together. */
  frame(type: number, flags: number, id: number, payload: Uint8Array): void {
    if (this.closed) return;
    const h = Buffer.allocUnsafe(9);
    const n = payload.length;
    h[0] = n >>> 16;
    h[1] = (n >>> 8) & 0xff;
    h[2] = n & 0xff;
    h[3] = type;
    h[4] = flags;
    h.writeUInt32BE(id, 5);
    this.corkTick();
    this.socket.write(h);
    if (n > 0) this.socket.write(payload);
  }

  /**
   * Writes a control frame (one buffer), counting its bytes as pending until the socket has
   * handed them to the kernel: what `checkQueue` limits.
   */
  private control(type: number, flags: number, id: number, payload: Uint8Array): void {
    if (this.closed) return;
    const n = payload.length;
    const b = Buffer.allocUnsafe(9 + n);
    b[0] = n >>> 16;
    b[1] = (n >>> 8) & 0xff;
    b[2] = n & 0xff;
    b[3] = type;
    b[4] = flags;
    b.writeUInt32BE(id, 5);
    b.set(payload, 9);
    this.corkTick();
    this.controlPending += b.length;
    this.socket.write(b, () => {
      this.controlPending -= b.length;
    });
  }

  /** Writes in one tick are sent together. */
  private corkTick(): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(uncork, this);
    }
  }

  uncork(): void {
    this.corked = false;
    this.socket.uncork();
  }

  windowUpdate(id: number, inc: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(inc, 0);
    this.frame(WINDOW_UPDATE, 0, id, b);
  }

  /** Sends a header block (HEADERS + CONTINUATIONs as the peer's frame size requires). */
  headers(id: number, fields: string[], endStream: boolean): void {
    let block = encodeHeaders(fields);
    if (this.tableSizeUpdate) {
      this.tableSizeUpdate = false;
      block = Buffer.concat([TABLE_SIZE_ZERO, block]);
    }
    const max = this.peerMaxFrame;
    if (block.length <= max) {
      this.frame(HEADERS, END_HEADERS | (endStream ? END_STREAM : 0), id, block);
      return;
    }
    this.frame(HEADERS, endStream ? END_STREAM : 0, id, block.subarray(0, max));
    for (let p = max; p < block.length; p += max) {
      const last = p + max >= block.length;
      this.frame(
        CONTINUATION,
        last ? END_HEADERS : 0,
        id,
        block.subarray(p, Math.min(block.length, p + max)),
      );
    }
  }

  /** Takes up to `want` bytes of the connection window (0 when shut). */
  takeWindow(want: number): number {
    const n = Math.min(want, this.connSendWindow);
    if (n <= 0) return 0;
    this.connSendWindow -= n;
    return n;
  }

  /** A stream with data and window of its own waits for the connection window. */
  block(s: H2Stream): void {
    this.blocked.add(s);
  }

  /** A stream with data waits for its own window. */
  stall(s: H2Stream): void {
    this.stalled.add(s);
  }

  /** After a SETTINGS_INITIAL_WINDOW_SIZE increase: stalled streams with window again are served. */
  private unstall(): void {
    for (const s of this.stalled) {
      if (s.sendWindow <= 0) continue;
      this.stalled.delete(s);
      this.blocked.add(s);
    }
  }

  /**
   * Serves streams waiting for the connection window, one frame each in turn (a large response
   * must not hold back the others), until the window is used up. A stream given its frame goes
   * to the back of the set (deleted and re-added), so the loop visits it again while there is
   * window; each visit either sends or takes the stream out, so the loop ends — and a WINDOW_UPDATE
   * of a few bytes costs one visit, not one per blocked stream.
   */
  private flushBlocked(): void {
    for (const s of this.blocked) {
      if (this.connSendWindow <= 0 || this.closed) return;
      this.blocked.delete(s);
      s.flush(1);
    }
  }

  resetStream(id: number, code: number): void {
    const s = this.streams.get(id);
    const rb = Buffer.allocUnsafe(4);
    rb.writeUInt32BE(code, 0);
    this.control(RST_STREAM, 0, id, rb);
    this.recentlyReset.add(id);
    if (this.recentlyReset.size > RECENTLY_RESET) {
      for (const old of this.recentlyReset) {
        this.recentlyReset.delete(old);
        break;
      }
    }
    if (s !== undefined) s.destroyLocal(code);
  }

  /** A stream is done (both sides ended, or reset). */
  streamClosed(s: H2Stream): void {
    this.streams.delete(s.id);
    this.blocked.delete(s);
    this.stalled.delete(s);
    this.endIfIdle();
  }

  /** After GOAWAY (ours or the peer's) the last stream done closes the connection. */
  private endIfIdle(): void {
    if ((this.goawayId >= 0 || this.peerGoaway) && this.streams.size === 0 && !this.closed) {
      this.destroy();
    }
  }

  // ---- Closing --------------------------------------------------------------------------------

  /** Graceful: GOAWAY (streams so far are served), the socket ends when they are done. */
  close(): void {
    if (this.closed || this.goawayId >= 0) return;
    this.goaway(H2Code.NO_ERROR);
    this.endIfIdle();
  }

  /** GOAWAY with `code`; `debug` (a connection error's reason) goes in its debug data. */
  private goaway(code: number, debug = ""): void {
    this.goawayId = this.lastStreamId;
    const g = Buffer.allocUnsafe(8 + Buffer.byteLength(debug));
    g.writeUInt32BE(this.lastStreamId, 0);
    g.writeUInt32BE(code, 4);
    g.write(debug, 8);
    this.control(GOAWAY, 0, 0, g);
  }

  /** Connection error: GOAWAY with the code and the reason (the peer's logs show it), then closed. */
  private fail(code: number, message: string): void {
    if (this.closed) return;
    this.goaway(code, message);
    if (this.corked) this.uncork();
    this.socket.end();
    this.destroy();
  }

  /** Closes at once: every open stream is reset. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.streams.values()]) s.destroyLocal(H2Code.CANCEL);
    this.streams.clear();
    this.blocked.clear();
    this.stalled.clear();
    if (!this.socket.destroyed) {
      // Let queued frames (a GOAWAY) go out first when the socket is still writable; a peer that
      // does not read them has a second.
      if (this.socket.writable) this.socket.end();
      const t = setTimeout(() => this.socket.destroy(), 1000).unref();
      this.socket.once("close", () => clearTimeout(t));
    }
    this.emit("close");
  }
}

function uncork(s: H2Session): void {
  s.uncork();
}

const EMPTY = Buffer.alloc(0);

/** HPACK dynamic table size update to 0 (RFC 7541 §6.3): 001 prefix, 5-bit integer 0. */
const TABLE_SIZE_ZERO = Buffer.from([0x20]);

/** A field value RFC 9113 §8.2.1 forbids: NUL, CR or LF anywhere, whitespace at either end. */
const BAD_VALUE = /[\0\n\r]|^[ \t]|[ \t]$/;

/** Headers a request must not carry over HTTP/2 (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

/**
 * A request's decoded fields as headers, or undefined when malformed (RFC 9113 §8.2–8.3):
 * pseudo fields first, known ones only, each once, :method :scheme :path present (no CONNECT),
 * :path "/…" (or "*" for OPTIONS); names lowercase, visible ASCII, no colon past the first
 * character; values without NUL, CR, LF or whitespace at the ends; no connection-specific
 * fields; te only "trailers".
 */
export function requestHeaders(fields: string[]): H2Headers | undefined {
  const h: H2Headers = Object.create(null) as H2Headers;
  let regular = false;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!;
    const value = fields[i + 1]!;
    if (name.length === 0) return undefined;
    for (let k = 0; k < name.length; k++) {
      const c = name.charCodeAt(k);
      if (c >= 0x41 && c <= 0x5a) return undefined; // uppercase
      if (c <= 0x20 || c >= 0x7f) return undefined;
      if (c === 0x3a && k > 0) return undefined;
    }
    if (value.length > 0 && BAD_VALUE.test(value)) return undefined;
    if (name.charCodeAt(0) === 0x3a) {
      if (regular) return undefined;
      if (name !== ":method" && name !== ":scheme" && name !== ":path" && name !== ":authority")
        return undefined;
      if (h[name] !== undefined) return undefined;
      h[name] = value;
      continue;
    }
    regular = true;
    if (CONNECTION_SPECIFIC.has(name)) return undefined;
    if (name === "te" && value !== "trailers") return undefined;
    const prev = h[name];
    if (prev === undefined) h[name] = value;
    else if (name === "cookie") h[name] = `${prev as string}; ${value}`;
    else if (Array.isArray(prev)) prev.push(value);
    else h[name] = [prev, value];
  }
  if (h[":method"] === undefined || h[":method"] === "CONNECT") return undefined;
  const path = h[":path"] as string | undefined;
  if (h[":scheme"] === undefined || path === undefined || path === "") return undefined;
  if (path.charCodeAt(0) !== 0x2f && !(path === "*" && h[":method"] === "OPTIONS")) return undefined;
  return h;
}

/**
 * One request/response exchange. The subset of node:http2's ServerHttp2Stream that gosymd's
 * handlers use: "data", "end", "close", "error", "wantTrailers" events; respond, write, end,
 * sendTrailers, close; destroyed, headersSent, rstCode.
 */
export class H2Stream extends EventEmitter {
  sendWindow: number;
  recvWindow: number;
  private recvUnacked = 0;
  /** Received bytes not yet `consumed` by a reader with autoAck off (the session's `buffered`). */
  private held = 0;
  remoteEnded = false;
  /** @internal END_STREAM came with the request headers; "end" follows once the handler has them. */
  endPending = false;
  /** Our side is done: END_STREAM queued. */
  private localEnding = false;
  private localEnded = false;
  headersSent = false;
  destroyed = false;
  /** The code it was reset with (0 when not reset). */
  rstCode = 0;
  private waitForTrailers = false;
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  /** Bytes queued above which `write` says to wait for "drain". */
  readonly highWaterMark = 1 << 20;
  /**
   * Received bytes are acknowledged (window opened again) as they arrive; a reader that takes
   * them at its own pace sets this false and calls `consumed` instead, so a slow reader holds
   * back the client rather than buffering here.
   */
  autoAck = true;

  constructor(
    readonly session: H2Session,
    readonly id: number,
  ) {
    super();
    this.sendWindow = session.peerStreamWindow;
    this.recvWindow = session.streamWindow;
  }

  /** @internal */
  receive(data: Buffer): void {
    this.emit("data", data);
  }

  /** @internal Received bytes: acknowledged (stream window) once a quarter of it is used. */
  ackReceived(n: number): void {
    this.recvUnacked += n;
    if (this.recvUnacked >= this.session.streamWindow / 4 && !this.destroyed) {
      this.session.windowUpdate(this.id, this.recvUnacked);
      this.recvWindow += this.recvUnacked;
      this.recvUnacked = 0;
    }
  }

  /** @internal Received bytes a reader with autoAck off has yet to take. */
  hold(n: number): void {
    this.held += n;
    this.session.buffer(n);
  }

  /** Bytes taken by a reader that set `autoAck` false. */
  consumed(n: number): void {
    // After a reset the held bytes were released already (finish).
    const k = Math.min(n, this.held);
    this.held -= k;
    this.session.unbuffer(k);
    if (!this.remoteEnded) this.ackReceived(k);
  }

  /** @internal */
  remoteEnd(): void {
    if (this.remoteEnded) return;
    this.remoteEnded = true;
    this.endPending = false;
    if (this.destroyed) return;
    this.emit("end");
    this.maybeClose();
  }

  /** Sends the response headers. */
  respond(
    headers: Record<string, string | number | string[]>,
    opts?: { endStream?: boolean; waitForTrailers?: boolean },
  ): void {
    if (this.destroyed || this.headersSent) return;
    this.headersSent = true;
    const fields: string[] = [];
    const status = headers[":status"];
    fields.push(":status", String(status ?? 200));
    for (const k of Object.keys(headers)) {
      if (k === ":status") continue;
      const v = headers[k];
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const x of v) fields.push(k.toLowerCase(), String(x));
      else fields.push(k.toLowerCase(), String(v));
    }
    this.waitForTrailers = opts?.waitForTrailers === true;
    const end = opts?.endStream === true;
    this.session.headers(this.id, fields, end);
    if (end) {
      this.localEnding = true;
      this.localEnded = true;
      this.maybeClose();
    }
  }

  /** Queues response bytes; false when enough is queued that the writer should wait for "drain". */
  write(data: Uint8Array): boolean {
    if (this.destroyed || this.localEnding) return false;
    if (!this.headersSent) this.respond({ ":status": 200 });
    if (data.length > 0) {
      this.queue.push(data);
      this.queued += data.length;
      this.flush();
    }
    return this.queued < this.highWaterMark;
  }

  /** Ends the response (after `data`): END_STREAM on the last DATA, or "wantTrailers" first. */
  end(data?: Uint8Array): void {
    if (this.destroyed || this.localEnding) return;
    if (!this.headersSent) this.respond({ ":status": 200 });
    if (this.destroyed || this.localEnding) return;
    if (data !== undefined && data.length > 0) {
      this.queue.push(data);
      this.queued += data.length;
    }
    this.localEnding = true;
    this.flush();
  }

  /** Trailers, ending the stream (after "wantTrailers"). */
  sendTrailers(trailers: Record<string, string | number>): void {
    if (this.destroyed || this.localEnded) return;
    const fields: string[] = [];
    for (const k of Object.keys(trailers)) fields.push(k.toLowerCase(), String(trailers[k]));
    this.localEnded = true;
    this.session.headers(this.id, fields, true);
    this.maybeClose();
  }

  /** Resets the stream (RST_STREAM with `code`, CANCEL by default). */
  close(code: number = H2Code.CANCEL): void {
    if (this.destroyed) return;
    this.session.resetStream(this.id, code);
  }

  /**
   * @internal Sends what the windows allow (at most `frames` DATA frames); END_STREAM or
   * "wantTrailers" when all is out. A stream that cannot send waits in the session's `stalled`
   * (no stream window: a SETTINGS decrease can make it negative) or `blocked` (no connection
   * window, or its turn is over) set, to be resumed by WINDOW_UPDATE or SETTINGS.
   */
  flush(frames = Number.POSITIVE_INFINITY): void {
    if (this.destroyed) return;
    const s = this.session;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      if (this.sendWindow <= 0) {
        s.stall(this);
        return;
      }
      if (frames-- <= 0) {
        s.block(this);
        return;
      }
      const want = Math.min(head.length, this.sendWindow, s.peerMaxFrame);
      const n = s.takeWindow(want);
      if (n === 0) {
        s.block(this);
        return;
      }
      this.sendWindow -= n;
      this.queued -= n;
      const last = n === head.length && this.queue.length === 1 && this.localEnding && !this.waitForTrailers;
      if (n === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(n);
      s.frame(DATA, last ? END_STREAM : 0, this.id, n === head.length ? head : head.subarray(0, n));
      if (last) {
        this.localEnded = true;
        this.maybeClose();
        return;
      }
    }
    if (this.queued < this.highWaterMark) this.emit("drain");
    if (this.localEnding && !this.localEnded) {
      if (this.waitForTrailers) {
        this.waitForTrailers = false;
        this.emit("wantTrailers");
        // A handler that sent no trailers: end with an empty DATA frame.
        if (!this.localEnded && !this.destroyed) {
          this.localEnded = true;
          s.frame(DATA, END_STREAM, this.id, EMPTY);
          this.maybeClose();
        }
      } else {
        this.localEnded = true;
        s.frame(DATA, END_STREAM, this.id, EMPTY);
        this.maybeClose();
      }
    }
  }

  private maybeClose(): void {
    if (this.destroyed || !this.localEnded) return;
    if (!this.remoteEnded) {
      if (this.endPending) return; // remoteEnd() follows
      // The response is complete but the client is still sending: tell it to stop (RFC 9113 §8.1).
      this.session.resetStream(this.id, H2Code.NO_ERROR);
      return;
    }
    this.finish();
  }

  private finish(): void {
    this.destroyed = true;
    this.queue.length = 0;
    this.queued = 0;
    // Bytes a reader never took would otherwise keep the session's socket paused for good.
    if (this.held > 0) {
      this.session.unbuffer(this.held);
      this.held = 0;
    }
    this.session.streamClosed(this);
    this.emit("close");
  }

  /** @internal The peer reset it. */
  destroyFromPeer(code: number): void {
    if (this.destroyed) return;
    this.rstCode = code;
    this.emit("aborted");
    this.finish();
  }

  /** @internal We reset it (or the connection went). */
  destroyLocal(code: number): void {
    if (this.destroyed) return;
    this.rstCode = code;
    this.finish();
  }
}
