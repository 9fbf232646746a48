import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { GosymdError, truncated } from "./errors.js";

/**
 * Random access to the bytes of a file without holding it all in memory. Container readers read
 * headers and the tables they need through this; a decoded binary keeps only copies of the tables
 * it uses (pclntab, symbols), never the whole file.
 */
export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes at `offset`; throws `truncated` when the source is shorter. */
  read(offset: number, length: number, field?: string): Uint8Array;
  close(): void;
}

/** Bytes already in memory (uploads, tests, fuzzing). `read` returns views, not copies. */
export class BufferSource implements ByteSource {
  readonly size: number;
  constructor(private readonly buf: Uint8Array) {
    this.size = buf.length;
  }
  read(offset: number, length: number, field = "bytes"): Uint8Array {
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > this.size
    ) {
      throw truncated("file", field, Number.isSafeInteger(offset) ? offset : 0, length);
    }
    return this.buf.subarray(offset, offset + length);
  }
  close(): void {}
}

/** A file read on demand with pread; `read` returns fresh copies. */
export class FileSource implements ByteSource {
  readonly size: number;
  private fd: number | undefined;
  readonly path: string;

  constructor(path: string) {
    this.path = path;
    try {
      this.fd = openSync(path, "r");
      const st = fstatSync(this.fd);
      if (!st.isFile()) throw new GosymdError("invalid_argument", `${path} is not a regular file`);
      this.size = st.size;
    } catch (e) {
      if (this.fd !== undefined) closeSync(this.fd);
      if (e instanceof GosymdError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw new GosymdError("not_found", `no such file: ${path}`, { cause: e });
      throw new GosymdError("invalid_argument", `cannot open ${path}: ${(e as Error).message}`, { cause: e });
    }
  }

  read(offset: number, length: number, field = "bytes"): Uint8Array {
    if (this.fd === undefined) throw new GosymdError("internal", `read after close: ${this.path}`);
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > this.size
    ) {
      throw truncated("file", field, Number.isSafeInteger(offset) ? offset : 0, length);
    }
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, done, length - done, offset + done);
      if (n <= 0) throw truncated("file", field, offset + done, length - done);
      done += n;
    }
    return out;
  }

  close(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}
