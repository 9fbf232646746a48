/**
 * Engine results → API messages. `toLocation` is also what the CLI prints as JSON
 * (`toJson(LocationSchema, toLocation(addr, res))`).
 */
import { create } from "@bufbuild/protobuf";
import type { BuildInfo as EngineBuildInfo } from "../buildinfo/types.js";
import {
  type BinaryInfo,
  BinaryInfoSchema,
  type BuildInfo,
  BuildInfoSchema,
  type Module,
  ModuleSchema,
} from "../gen/gosymd/v1/binary_pb.js";
import {
  type Frame,
  FrameSchema,
  FrameSource,
  type Location,
  LocationSchema,
  UnresolvedReason,
} from "../gen/gosymd/v1/symbolizer_pb.js";
import { buildIdAliases } from "../object/buildid.js";
import type { BinaryInfo as EngineBinaryInfo } from "../symtab/api.js";
import type { Frame as EngineFrame, UnresolvedReason as EngineReason, Resolution } from "../symtab/types.js";

export const REASONS: Record<EngineReason, UnresolvedReason> = {
  outside_binary: UnresolvedReason.OUTSIDE_BINARY,
  no_symbol: UnresolvedReason.NO_SYMBOL,
  invalid_address: UnresolvedReason.INVALID_ADDRESS,
  corrupt_tables: UnresolvedReason.CORRUPT_TABLES,
};

export function toFrame(f: EngineFrame): Frame {
  return create(FrameSchema, {
    function: f.function,
    file: f.file,
    line: f.line,
    startLine: f.startLine,
    inlined: f.inlined,
    entry: BigInt(f.entry),
    packagePath: f.packagePath,
    modulePath: f.modulePath,
    moduleVersion: f.moduleVersion,
    source: f.source === "pclntab" ? FrameSource.PCLNTAB : FrameSource.SYMBOL_TABLE,
  });
}

/** One address and its resolution as a Location message (frames innermost first). */
export function toLocation(address: bigint, res: Resolution): Location {
  const loc = create(LocationSchema, { address, frames: res.frames.map(toFrame) });
  if (res.frames.length === 0) {
    loc.unresolvedReason = REASONS[res.reason ?? "no_symbol"];
    if (res.detail) loc.detail = res.detail;
  }
  return loc;
}

function toModule(m: EngineBuildInfo["main"]): Module {
  return create(ModuleSchema, {
    path: m.path,
    version: m.version,
    sum: m.sum,
    replacePath: m.replace?.path ?? "",
    replaceVersion: m.replace?.version ?? "",
  });
}

function toBuildInfo(b: EngineBuildInfo): BuildInfo {
  return create(BuildInfoSchema, {
    goVersion: b.goVersion,
    path: b.path,
    main: toModule(b.main),
    deps: b.deps.map(toModule),
    settings: b.settings.map((s) => ({ key: s.key, value: s.value })),
  });
}

/** Engine BinaryInfo → API BinaryInfo, with the canonical ID and every alias a client may send. */
export function toBinaryInfo(info: EngineBinaryInfo): BinaryInfo {
  const ids = info.buildIds;
  const out = create(BinaryInfoSchema, {
    buildId: `sha256:${ids.sha256}`,
    aliases: buildIdAliases(ids),
    buildIds: { gnu: ids.gnu ?? "", go: ids.go ?? "", machoUuid: ids.machoUuid ?? "", sha256: ids.sha256 },
    format: info.format,
    arch: info.arch,
    os: info.os,
    ptrSize: info.ptrSize,
    pie: info.pie,
    size: BigInt(info.size),
    goVersion: info.goVersion,
    symbolCount: info.symbolCount,
  });
  if (info.pclntab) {
    const p = info.pclntab;
    out.pclntab = {
      $typeName: "gosymd.v1.PclntabInfo",
      version: p.version,
      funcCount: p.funcCount,
      fileCount: p.fileCount,
      foundBy: p.foundBy,
      inlineTrees: p.inlineTrees,
      ptrSize: p.ptrSize,
      quantum: p.quantum,
      textStart: BigInt(p.textStart),
    };
  }
  if (info.buildInfo) out.buildInfo = toBuildInfo(info.buildInfo);
  return out;
}
