/**
 * gzip in and out for profiles. Input is detected by magic (pprof files are usually gzipped but
 * need not be) and inflated with a hard output cap, so a small "bomb" cannot allocate gigabytes.
 * Output is deflated as a stream from the encoder's chunks.
 */
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { constants, createGzip, gunzip } from "node:zlib";
import { GosymdError } from "../bytes/errors.js";

export function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

/** Inflates gzip data (all members), failing with `limit_exceeded` past `maxBytes`. */
export function gunzipCapped(data: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    gunzip(data, { maxOutputLength: Math.max(1, maxBytes) }, (err, out) => {
      if (err) reject(gzipError(err, maxBytes));
      else resolve(new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
    });
  });
}

function gzipError(err: Error & { code?: string }, maxBytes: number): GosymdError {
  if (err.code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError) {
    return new GosymdError(
      "limit_exceeded",
      `the profile inflates to more than ${maxBytes} bytes (the decompression limit)`,
      { format: "gzip", cause: err, hint: "raise the limit if the profile is genuine" },
    );
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

/** Deflates a sequence of chunks into one gzip buffer (streaming: the chunks are consumed lazily). */
export async function gzipChunks(chunks: Iterable<Uint8Array>, level: number): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  let total = 0;
  await pipeline(
    Readable.from(chunks),
    createGzip({ level: clampLevel(level) }),
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        parts.push(chunk);
        total += chunk.length;
        cb();
      },
    }),
  );
  const out = Buffer.concat(parts, total);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Writes chunks to `sink`, gzipped when `level` is given. */
export async function writeChunks(
  chunks: Iterable<Uint8Array>,
  sink: NodeJS.WritableStream,
  gzipLevel: number | undefined,
): Promise<void> {
  if (gzipLevel === undefined) await pipeline(Readable.from(chunks), sink);
  else await pipeline(Readable.from(chunks), createGzip({ level: clampLevel(gzipLevel) }), sink);
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
