import type { Frame, Resolution } from "../symtab/index.js";

/**
 * The proto-JSON shape of `gosymd.v1.Location` (uint64 as decimal strings, enums by name,
 * default values omitted), used by `gosymd symbolize --json`.
 */
export function locationJson(
  address: bigint | undefined,
  text: string,
  res: Resolution,
): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (address !== undefined) o.address = address.toString();
  else o.input = text;
  if (res.frames.length > 0) o.frames = res.frames.map(frameJson);
  if (res.reason !== undefined) {
    o.unresolvedReason = `UNRESOLVED_REASON_${res.reason.toUpperCase()}`;
    if (res.detail) o.detail = res.detail;
  }
  return o;
}

export function frameJson(f: Frame): Record<string, unknown> {
  const o: Record<string, unknown> = { function: f.function };
  if (f.file !== "") o.file = f.file;
  if (f.line !== 0) o.line = f.line;
  if (f.startLine !== 0) o.startLine = f.startLine;
  if (f.inlined) o.inlined = true;
  if (f.entry !== 0) o.entry = String(f.entry);
  if (f.packagePath !== "") o.packagePath = f.packagePath;
  if (f.modulePath !== "") o.modulePath = f.modulePath;
  if (f.moduleVersion !== "") o.moduleVersion = f.moduleVersion;
  o.source = f.source === "pclntab" ? "FRAME_SOURCE_PCLNTAB" : "FRAME_SOURCE_SYMBOL_TABLE";
  return o;
}
