/** Mach-O reader (thin and fat/universal). */
import { GosymdError } from "../bytes/errors.js";
import type { ByteSource } from "../bytes/source.js";
import type { Arch, ObjectFile } from "./types.js";

export function isMachoMagic(head: Uint8Array): boolean {
  if (head.length < 4) return false;
  const be = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
  return be === 0xfeedface || be === 0xfeedfacf || be === 0xcefaedfe || be === 0xcffaedfe;
}
export function isFatMagic(head: Uint8Array): boolean {
  if (head.length < 4) return false;
  const be = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
  return be === 0xcafebabe || be === 0xcafebabf;
}
export function looksLikeFat(_source: ByteSource): boolean {
  return false;
}
export function openMacho(_source: ByteSource, _opts: { arch?: Arch }): ObjectFile {
  throw new GosymdError("unsupported", "Mach-O reader not implemented yet", { format: "macho" });
}
