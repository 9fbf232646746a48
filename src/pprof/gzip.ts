/**
 * gzip in and out for profiles. Input is detected by magic (pprof files are usually gzipped but
 * need not be) and inflated with a hard output cap, so a small "bomb" cannot allocate gigabytes.
 * Output is deflated as a stream from the encoder's chunks.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { constants, createGunzip, gunzipSync, gzip } from "node:zlib";
import { GosymdError } from "../bytes/errors.js";

export function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

/**
 * Inflates gzip data (all members), failing with `limit_exceeded` past `maxBytes`. Streams into
 * one buffer sized from the gzip trailer's size field (a hint only: bounded by the cap and by
 * deflate's maximum ratio, grown if wrong), so the peak is about the inflated size, not twice it.
 */
export function gunzipCapped(data: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  // Small inputs inflate in one synchronous call (a few ms): no thread-pool round trip per 1 MiB of
  // output. Past SYNC_INFLATE_BYTES of output it stops and the streaming path below takes over,
  // so a large (or bomb) input never blocks the event loop for long.
  if (data.length <= SYNC_INFLATE_BYTES / 4) {
    try {
      const out = gunzipSync(data, { maxOutputLength: Math.min(maxBytes, SYNC_INFLATE_BYTES) });
      return Promise.resolve(new Uint8Array(out.buffer, out.byteOffset, out.length));
    } catch (e) {
      const err = e as Error & { code?: string };
      const tooBig = err.code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError;
      if (!tooBig) return Promise.reject(gzipError(err, maxBytes));
      if (maxBytes <= SYNC_INFLATE_BYTES) return Promise.reject(tooLarge(maxBytes));
    }
  }
  return new Promise((resolve, reject) => {
    let out = Buffer.allocUnsafe(initialCapacity(data, maxBytes));
    let len = 0;
    let done = false;
    const fail = (e: GosymdError) => {
      if (done) return;
      done = true;
      z.destroy();
      reject(e);
    };
    const z = createGunzip({ chunkSize: 1 << 20 });
    z.on("data", (c: Buffer) => {
      if (done) return;
      if (len + c.length > maxBytes) {
        fail(tooLarge(maxBytes));
        return;
      }
      if (len + c.length > out.length) {
        const next = Buffer.allocUnsafe(Math.min(maxBytes, Math.max(out.length * 2, len + c.length)));
        out.copy(next, 0, 0, len);
        out = next;
      }
      c.copy(out, len);
      len += c.length;
    });
    z.on("error", (e: Error & { code?: string }) => fail(gzipError(e, maxBytes)));
    z.on("end", () => {
      if (done) return;
      done = true;
      resolve(new Uint8Array(out.buffer, out.byteOffset, len));
    });
    z.end(data);
  });
}

/** Output size up to which gunzipCapped inflates synchronously. */
const SYNC_INFLATE_BYTES = 16 << 20;

/** Deflate cannot expand more than ~1032:1. */
const MAX_DEFLATE_RATIO = 1032;

function initialCapacity(data: Uint8Array, maxBytes: number): number {
  const bound = Math.min(maxBytes, data.length * MAX_DEFLATE_RATIO + 1024);
  let hint = 0;
  if (data.length >= 18) {
    const n = data.length;
    hint = (data[n - 4]! | (data[n - 3]! << 8) | (data[n - 2]! << 16) | (data[n - 1]! << 24)) >>> 0;
  }
  if (hint < data.length) hint = data.length * 4; // absent, wrapped (> 4 GiB) or multi-member
  return Math.max(1024, Math.min(bound, hint));
}

function tooLarge(maxBytes: number): GosymdError {
  return new GosymdError(
    "limit_exceeded",
    `the profile inflates to more than ${maxBytes} bytes (the decompression limit)`,
    { format: "gzip", hint: "raise the limit if the profile is genuine" },
  );
}

function gzipError(err: Error & { code?: string }, maxBytes: number): GosymdError {
  if (err.code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError) {
    return new GosymdError("limit_exceeded", tooLarge(maxBytes).message, {
      format: "gzip",
      cause: err,
      hint: "raise the limit if the profile is genuine",
    });
  }
  if (err.code === "Z_BUF_ERROR") {
    return new GosymdError("truncated", `gzip data ends early: ${err.message}`, {
      format: "gzip",
      cause: err,
      hint: "the file looks cut short; re-copy or re-upload the complete file",
    });
  }
  return new GosymdError("corrupt", `bad gzip data: ${err.message}`, { format: "gzip", cause: err });
}

/** Bytes per gzip member; members are deflated in parallel on the libuv thread pool. */
const MEMBER_BYTES = 1 << 20;
const MAX_IN_FLIGHT = 4;

/**
 * Deflates a sequence of chunks as consecutive gzip members of ~1 MiB, several at a time on the
 * thread pool, while the chunks are still being produced. A multi-member gzip file is one gzip
 * stream to every reader (Go's compress/gzip and pprof included); the members cost ~20 bytes each.
 */
export async function* gzipMembers(chunks: Iterable<Uint8Array>, level: number): AsyncGenerator<Uint8Array> {
  const lvl = clampLevel(level);
  const inFlight: Promise<Buffer>[] = [];
  let group: Uint8Array[] = [];
  let groupLen = 0;
  let any = false;
  const start = (data: Uint8Array) => {
    const p = new Promise<Buffer>((resolve, reject) => {
      // One output buffer per member (the default 16 KiB chunks cost a main-thread round trip each).
      gzip(data, { level: lvl, chunkSize: MEMBER_BYTES }, (err, out) => (err ? reject(err) : resolve(out)));
    });
    p.catch(() => {}); // awaited in order below
    inFlight.push(p);
    any = true;
  };
  const flush = () => {
    if (groupLen === 0) return;
    start(group.length === 1 ? group[0]! : Buffer.concat(group, groupLen));
    group = [];
    groupLen = 0;
  };
  for (const c of chunks) {
    if (c.length >= MEMBER_BYTES / 2) {
      // Big chunks (encoder blocks, long views of the input) become members as they are, or in
      // 1 MiB slices: no copying.
      flush();
      for (let off = 0; off < c.length; off += MEMBER_BYTES) {
        start(c.subarray(off, Math.min(c.length, off + MEMBER_BYTES)));
        while (inFlight.length >= MAX_IN_FLIGHT) yield await inFlight.shift()!;
      }
      continue;
    }
    group.push(c);
    groupLen += c.length;
    if (groupLen >= MEMBER_BYTES) flush();
    while (inFlight.length >= MAX_IN_FLIGHT) yield await inFlight.shift()!;
  }
  flush();
  if (!any) start(new Uint8Array(0));
  while (inFlight.length > 0) yield await inFlight.shift()!;
}

/**
 * Deflates a sequence of chunks into one gzip buffer (see gzipMembers). Output accumulates in one
 * buffer sized from `sizeHint`, grown by half when short, so a good hint means no second copy.
 */
export async function gzipChunks(
  chunks: Iterable<Uint8Array>,
  level: number,
  sizeHint = 1 << 16,
): Promise<Uint8Array> {
  let out = Buffer.allocUnsafe(Math.max(1 << 12, Math.floor(sizeHint)));
  let len = 0;
  for await (const member of gzipMembers(chunks, level)) {
    if (len + member.length > out.length) {
      const next = Buffer.allocUnsafe(Math.max(Math.floor(out.length * 1.5), len + member.length));
      out.copy(next, 0, 0, len);
      out = next;
    }
    out.set(member, len);
    len += member.length;
  }
  // Do not keep a badly oversized buffer alive behind a small result.
  if (out.length - len > len / 4) return Uint8Array.prototype.slice.call(out, 0, len);
  return new Uint8Array(out.buffer, out.byteOffset, len);
}

/** Writes chunks to `sink`, gzipped (as parallel members) when `level` is given. */
export async function writeChunks(
  chunks: Iterable<Uint8Array>,
  sink: NodeJS.WritableStream,
  gzipLevel: number | undefined,
): Promise<void> {
  if (gzipLevel === undefined) await pipeline(Readable.from(chunks), sink);
  else await pipeline(Readable.from(gzipMembers(chunks, gzipLevel)), sink);
}

function clampLevel(level: number): number {
  if (!Number.isInteger(level) || level < constants.Z_BEST_SPEED || level > constants.Z_BEST_COMPRESSION) {
    throw new GosymdError("invalid_argument", `gzip level must be 1..9, got ${level}`);
  }
  return level;
}

/** Concatenates chunks (uncompressed output). */
export function concatChunks(chunks: Iterable<Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const c of chunks) {
    parts.push(c);
    total += c.length;
  }
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}
