/**
 * Where binaries come from. Sources are tried in order (local store, then upstreams such as
 * debuginfod); each is pluggable behind this interface. A source answers with a file on local
 * disk (remote sources fetch into the local store first), so decoding reads it with pread.
 */
import type { Segment } from "../object/types.js";
import type { GoBinary } from "../symtab/api.js";

export interface FoundBinary {
  /** Canonical ID, "sha256:<hex>". */
  id: string;
  /** Path of the complete, verified file on local disk. */
  path: string;
  /** When the source already decoded it (to verify a fetch), the result, so it is not decoded twice. */
  decoded?: { bin: GoBinary; segments: readonly Segment[] };
}

export interface FindContext {
  signal?: AbortSignal | undefined;
}

export interface BinarySource {
  /** Short name for messages and metrics: "store", "debuginfod(http://…)". */
  readonly name: string;
  /** True for sources that leave this machine (skipped when a caller asks for local only). */
  readonly remote: boolean;
  /**
   * Looks the binary up by its alias keys (see src/cache/aliases.ts). Resolves undefined when the
   * source does not have it; rejects with a GosymdError ("unavailable", "invalid_argument", ...)
   * when the source failed or what it returned is unusable.
   */
  find(keys: readonly string[], ctx: FindContext): Promise<FoundBinary | undefined>;
  /** Whether this source can be asked about any of these keys at all (e.g. debuginfod: hex IDs). */
  accepts(keys: readonly string[]): boolean;
}
