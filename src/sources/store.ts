/**
 * The local store: binaries on disk, content-addressed by SHA-256, with an alias index.
 *
 * Layout under the store directory:
 *   objects/<h0h1>/<sha256 hex>   the executable, read-only, never rewritten
 *   aliases/<sha256 of the key>   "<alias key>\n<canonical id>\n"  (GNU/Go build ID, UUID → binary)
 *   meta/<sha256 hex>.json        what we know about it (BinaryInfo, aliases, upload name)
 *   tmp/                          partial writes; nothing here is ever read as an answer
 *
 * Safety: every file is written to tmp/ under a unique name, fsynced and renamed into place, so a
 * reader sees a complete file or none, and concurrent writers of the same binary write identical
 * bytes to the same name. The meta file is written last and marks a binary as present.
 */
import { createHash, randomBytes } from "node:crypto";
import { constants } from "node:fs";
import {
  chmod,
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  unlink,
} from "node:fs/promises";
import { join } from "node:path";
import { GosymdError, toGosymdError } from "../bytes/errors.js";
import { binaryAliasKeys, canonicalId } from "../cache/aliases.js";
import type { BinaryInfo, GoBinary } from "../symtab/api.js";
import type { BinarySource, FindContext, FoundBinary } from "./types.js";

export interface StoredMeta {
  id: string;
  aliases: string[];
  info: BinaryInfo;
  /** Where it came from: "upload", "debuginfod(URL)". */
  origin: string;
  fileName?: string;
  storedAt: string;
}

export interface IngestResult {
  meta: StoredMeta;
  alreadyPresent: boolean;
  /** The decoded binary when this call decoded it (not when already present). */
  bin?: GoBinary;
  /** Path of the stored object. */
  path: string;
}

/** Verifies and decodes a complete file (the engine's openBinaryFile in production). */
export type Verifier = (path: string) => GoBinary;

const SHA_HEX = /^[0-9a-f]{64}$/;

export class LocalStore implements BinarySource {
  readonly name = "store";
  readonly remote = false;
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Opens (creating) a store directory and removes stale partial writes. */
  static async open(dir: string): Promise<LocalStore> {
    const s = new LocalStore(dir);
    for (const sub of ["objects", "aliases", "meta", "tmp"]) {
      await mkdir(join(dir, sub), { recursive: true, mode: 0o755 });
    }
    // Partial writes older than an hour belong to writers that died.
    const cutoff = Date.now() - 3600_000;
    for (const f of await readdir(join(dir, "tmp"))) {
      const p = join(dir, "tmp", f);
      try {
        if ((await stat(p)).mtimeMs < cutoff) await rm(p, { force: true });
      } catch {
        // raced with another process: fine
      }
    }
    return s;
  }

  accepts(): boolean {
    return true;
  }

  objectPath(hex: string): string {
    return join(this.dir, "objects", hex.slice(0, 2), hex);
  }

  private metaPath(hex: string): string {
    return join(this.dir, "meta", `${hex}.json`);
  }

  private aliasPath(key: string): string {
    return join(this.dir, "aliases", createHash("sha256").update(key).digest("hex"));
  }

  /** The canonical ID an alias key names, if the store has it. */
  async resolve(key: string): Promise<string | undefined> {
    if (key.startsWith("sha256:")) return SHA_HEX.test(key.slice(7)) ? key : undefined;
    let text: string;
    try {
      text = await readFile(this.aliasPath(key), "utf8");
    } catch {
      return undefined;
    }
    const [k, id] = text.split("\n");
    if (k !== key || id === undefined || !id.startsWith("sha256:") || !SHA_HEX.test(id.slice(7)))
      return undefined;
    return id;
  }

  async find(keys: readonly string[], _ctx: FindContext = {}): Promise<FoundBinary | undefined> {
    for (const key of keys) {
      const id = await this.resolve(key);
      if (id === undefined) continue;
      const meta = await this.meta(id);
      if (meta) return { id, path: this.objectPath(id.slice(7)) };
    }
    return undefined;
  }

  /** Stored metadata by canonical ID, or undefined when the binary is not (completely) stored. */
  async meta(id: string): Promise<StoredMeta | undefined> {
    const hex = id.startsWith("sha256:") ? id.slice(7) : id;
    if (!SHA_HEX.test(hex)) return undefined;
    try {
      const m = JSON.parse(await readFile(this.metaPath(hex), "utf8")) as StoredMeta;
      await stat(this.objectPath(hex));
      return m;
    } catch {
      return undefined;
    }
  }

  /** Stored metadata for any alias key. */
  async metaFor(keys: readonly string[]): Promise<StoredMeta | undefined> {
    for (const key of keys) {
      const id = await this.resolve(key);
      if (id === undefined) continue;
      const m = await this.meta(id);
      if (m) return m;
    }
    return undefined;
  }

  /** A writer for a new file in tmp/ that hashes and counts what it writes. */
  async writer(maxBytes: number): Promise<StoreWriter> {
    const path = join(this.dir, "tmp", `${process.pid}-${randomBytes(8).toString("hex")}`);
    const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    return new StoreWriter(path, fh, maxBytes);
  }

  /**
   * Moves a complete file from tmp/ into the store after verifying it (decoding it). Idempotent:
   * bytes already stored are not decoded again. The temp file is always consumed.
   */
  async ingest(
    tmp: { path: string; sha256: string },
    verify: Verifier,
    extra: { origin: string; fileName?: string | undefined },
  ): Promise<IngestResult> {
    const hex = tmp.sha256;
    const id = canonicalId(hex);
    try {
      const existing = await this.meta(id);
      if (existing) return { meta: existing, alreadyPresent: true, path: this.objectPath(hex) };
      let bin: GoBinary;
      try {
        bin = verify(tmp.path);
      } catch (e) {
        throw toGosymdError(e);
      }
      if (bin.info.buildIds.sha256.toLowerCase() !== hex) {
        throw new GosymdError(
          "internal",
          `decoder hashed the file to ${bin.info.buildIds.sha256}, the store to ${hex}`,
        );
      }
      const obj = this.objectPath(hex);
      await mkdir(join(this.dir, "objects", hex.slice(0, 2)), { recursive: true });
      await chmod(tmp.path, 0o444);
      await rename(tmp.path, obj);
      const aliases = binaryAliasKeys(bin.info.buildIds);
      for (const key of aliases.slice(1)) await this.writeAtomic(this.aliasPath(key), `${key}\n${id}\n`);
      const meta: StoredMeta = {
        id,
        aliases,
        info: bin.info,
        origin: extra.origin,
        ...(extra.fileName ? { fileName: extra.fileName } : {}),
        storedAt: new Date().toISOString(),
      };
      await this.writeAtomic(this.metaPath(hex), `${JSON.stringify(meta)}\n`);
      return { meta, alreadyPresent: false, bin, path: obj };
    } finally {
      await unlink(tmp.path).catch(() => undefined);
    }
  }

  private async writeAtomic(path: string, text: string): Promise<void> {
    const tmp = join(this.dir, "tmp", `${process.pid}-${randomBytes(8).toString("hex")}`);
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  }
}

/** Streams bytes into a temp file of the store, hashing and counting them, bounded in size. */
export class StoreWriter {
  private readonly hash = createHash("sha256");
  private bytes = 0;
  private done = false;

  constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    private readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.bytes;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.done) throw new GosymdError("internal", "write after finish");
    if (this.bytes + chunk.length > this.maxBytes) {
      throw new GosymdError(
        "limit_exceeded",
        `binary is larger than the limit of ${this.maxBytes} bytes (received ${this.bytes + chunk.length} so far)`,
      );
    }
    this.hash.update(chunk);
    let off = 0;
    while (off < chunk.length) {
      const { bytesWritten } = await this.fh.write(chunk, off, chunk.length - off, this.bytes + off);
      off += bytesWritten;
    }
    this.bytes += chunk.length;
  }

  /** Flushes and closes; returns the file's path, SHA-256 (hex) and size. */
  async finish(): Promise<{ path: string; sha256: string; size: number }> {
    this.done = true;
    await this.fh.sync();
    await this.fh.close();
    return { path: this.path, sha256: this.hash.digest("hex"), size: this.bytes };
  }

  /** Discards the partial file. */
  async abort(): Promise<void> {
    if (!this.done) {
      this.done = true;
      await this.fh.close().catch(() => undefined);
    }
    await unlink(this.path).catch(() => undefined);
  }
}
