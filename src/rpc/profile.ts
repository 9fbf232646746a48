/**
 * SymbolizeProfile: a pprof profile with bare addresses in, the same profile with functions, lines
 * and inlined frames out. Binaries are looked up by the mappings' build IDs through the cache and
 * its sources, like Symbolize's; unknown IDs are reported in the stats, not errors.
 */
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { GosymdError, toGosymdError } from "../bytes/errors.js";
import { aliasKeys } from "../cache/aliases.js";
import {
  ProfileCompression,
  type ProfileStats,
  ProfileStatsSchema,
  type SymbolizeProfileRequest,
  type SymbolizeProfileResponse,
  SymbolizeProfileResponseSchema,
} from "../gen/gosymd/v1/profile_pb.js";
import type { ProfileStats as EngineStats, ResolveBinary } from "../pprof/index.js";
import { symbolizeProfile } from "../pprof/index.js";
import type { BinaryDeps } from "./binaries.js";
import { u32, u64 } from "./crash-convert.js";
import { toConnectError } from "./errors.js";

export function toProfileStats(s: EngineStats): ProfileStats {
  return create(ProfileStatsSchema, {
    mappings: s.perMapping.map((p) => ({
      mappingId: u64(p.mappingId),
      buildId: p.buildId,
      filename: p.filename,
      locations: u32(p.locations),
      alreadySymbolized: u32(p.alreadySymbolized),
      resolved: u32(p.resolved),
      unresolved: u32(p.unresolved),
      binaryFound: p.binaryFound,
      error: p.error ?? "",
    })),
    missingBuildIds: s.missingBuildIds,
    locations: u32(s.locations),
    resolved: u32(s.resolved),
    alreadySymbolized: u32(s.alreadySymbolized),
    unresolved: u32(s.unresolved),
    unmappedLocations: u32(s.unmappedLocations),
    functionsAdded: u32(s.functionsAdded),
    stringsAdded: u32(s.stringsAdded),
    inputBytes: u64(s.inputBytes),
    inputGzipped: s.inputGzipped,
  });
}

const OUTPUT = {
  [ProfileCompression.UNSPECIFIED]: "gzip",
  [ProfileCompression.GZIP]: "gzip",
  [ProfileCompression.NONE]: "raw",
  [ProfileCompression.SAME]: "same",
} as const;

export function createProfileHandlers(deps: BinaryDeps) {
  const { cache, limits } = deps;

  async function symbolize(
    req: SymbolizeProfileRequest,
    ctx: HandlerContext,
  ): Promise<SymbolizeProfileResponse> {
    if (req.profile.length === 0) {
      throw new GosymdError("invalid_argument", "no profile: set profile", { field: "profile" });
    }
    if (req.profile.length > limits.maxProfileBytes) {
      throw new GosymdError(
        "limit_exceeded",
        `the profile is ${req.profile.length} bytes; the server accepts at most ${limits.maxProfileBytes} (--max-profile-bytes)`,
      );
    }
    const output = OUTPUT[req.compression];
    if (output === undefined) {
      throw new GosymdError("invalid_argument", `unknown compression ${req.compression}`, {
        field: "compression",
      });
    }
    const resolver: ResolveBinary = async (buildId) => {
      try {
        aliasKeys(buildId);
      } catch {
        return undefined; // not a build ID any binary could have
      }
      try {
        const e = await cache.get(buildId, { signal: ctx.signal });
        return { binary: e.bin, segments: e.segments };
      } catch (err) {
        const g = toGosymdError(err);
        if (g.kind === "not_found") return undefined;
        // Anything else (a source down, a stored file that is not a Go binary) fails this mapping
        // only; the engine reports it in the mapping's stats (internal errors fail the call).
        throw g;
      }
    };
    const r = await symbolizeProfile(req.profile, resolver, {
      redo: req.redo,
      output,
      elideWrappers: !req.keepWrappers,
      maxProfileBytes: Math.max(limits.maxInflatedProfileBytes, limits.maxProfileBytes),
      signal: ctx.signal,
    });
    return create(SymbolizeProfileResponseSchema, {
      profile: r.profile,
      gzipped: r.gzipped,
      stats: toProfileStats(r.stats),
    });
  }

  return {
    async symbolizeProfile(
      req: SymbolizeProfileRequest,
      ctx: HandlerContext,
    ): Promise<SymbolizeProfileResponse> {
      try {
        return await symbolize(req, ctx);
      } catch (e) {
        throw toConnectError(e);
      }
    },
  };
}

/** A server's ProfileStats in the engine's shape (what `gosymd pprof` prints). */
export function fromProfileStats(s: ProfileStats | undefined): EngineStats {
  const n = (b: bigint) => (b > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(b));
  return {
    perMapping: (s?.mappings ?? []).map((p) => ({
      mappingId: n(p.mappingId),
      buildId: p.buildId,
      filename: p.filename,
      locations: p.locations,
      alreadySymbolized: p.alreadySymbolized,
      resolved: p.resolved,
      unresolved: p.unresolved,
      binaryFound: p.binaryFound,
      ...(p.error !== "" ? { error: p.error } : {}),
    })),
    missingBuildIds: s?.missingBuildIds ?? [],
    locations: s?.locations ?? 0,
    resolved: s?.resolved ?? 0,
    alreadySymbolized: s?.alreadySymbolized ?? 0,
    unresolved: s?.unresolved ?? 0,
    unmappedLocations: s?.unmappedLocations ?? 0,
    functionsAdded: s?.functionsAdded ?? 0,
    stringsAdded: s?.stringsAdded ?? 0,
    inputBytes: n(s?.inputBytes ?? 0n),
    inputGzipped: s?.inputGzipped ?? false,
  };
}
