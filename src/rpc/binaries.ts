/**
 * Binaries named by a BinaryRef (build ID alias or inline contents), found through the same cache
 * and sources as Symbolize; and the executable's bytes for readers that need more than the decoded
 * tables (the core reader).
 */
import { createHash } from "node:crypto";
import { stat } from "node:fs/promises";
import { GosymdError } from "../bytes/errors.js";
import { BufferSource, type ByteSource, FileSource } from "../bytes/source.js";
import type { BinaryCache, CachedBinary } from "../cache/binary-cache.js";
import type { BinaryRef } from "../gen/gosymd/v1/binary_pb.js";
import type { LocalStore } from "../sources/store.js";
import type { ServiceLimits } from "./limits.js";

export interface BinaryDeps {
  cache: BinaryCache;
  store: LocalStore;
  limits: ServiceLimits;
}

/** The decoded binary a reference names; throws GosymdError (invalid_argument, not_found, ...). */
export async function loadBinaryRef(
  ref: BinaryRef | undefined,
  deps: BinaryDeps,
  call: { readonly signal?: AbortSignal | undefined } | undefined,
  missing = "no binary: set binary.build_id or binary.contents",
): Promise<CachedBinary> {
  const r = ref?.ref;
  if (r === undefined || r.case === undefined) throw new GosymdError("invalid_argument", missing);
  // `call` goes to the cache as is: its signal is read only on a miss (a cache hit never needs
  // one, and the direct gRPC path makes its signal only when asked; see grpc-unary.ts).
  if (r.case === "buildId") return deps.cache.get(r.value, call);
  if (r.value.length > deps.limits.maxInlineBytes) {
    throw new GosymdError(
      "limit_exceeded",
      `inline binary contents are ${r.value.length} bytes; the limit is ${deps.limits.maxInlineBytes} (upload it instead)`,
    );
  }
  const sha = createHash("sha256").update(r.value).digest("hex");
  return deps.cache.getByContents(r.value, sha, call);
}

/**
 * The executable's bytes: the inline contents, or the store's copy (binaries found by ID are in the
 * local store, uploaded or fetched from debuginfod). The caller closes it.
 */
export async function binaryBytes(
  ref: BinaryRef,
  entry: CachedBinary,
  store: LocalStore,
): Promise<ByteSource> {
  if (ref.ref.case === "contents") return new BufferSource(ref.ref.value);
  const path = store.objectPath(entry.id.slice("sha256:".length));
  try {
    await stat(path);
  } catch {
    throw new GosymdError("not_found", `binary ${entry.id} is known but its file is not in the local store`, {
      hint: "upload it with `gosymd upload --server URL FILE`",
    });
  }
  return new FileSource(path);
}
