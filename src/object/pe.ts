/** PE reader. */
import { GosymdError } from "../bytes/errors.js";
import type { ByteSource } from "../bytes/source.js";
import type { ObjectFile } from "./types.js";

export function isPe(source: ByteSource): boolean {
  if (source.size < 0x40) return false;
  const h = source.read(0, 0x40);
  if (h[0] !== 0x4d || h[1] !== 0x5a) return false;
  const lfanew = h[0x3c]! | (h[0x3d]! << 8) | (h[0x3e]! << 16) | (h[0x3f]! * 0x1000000);
  if (lfanew + 4 > source.size) return false;
  const sig = source.read(lfanew, 4);
  return sig[0] === 0x50 && sig[1] === 0x45 && sig[2] === 0 && sig[3] === 0;
}
export function openPe(_source: ByteSource): ObjectFile {
  throw new GosymdError("unsupported", "PE reader not implemented yet", { format: "pe" });
}
