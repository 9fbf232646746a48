/**
 * Format sniffing: opens an ELF, Mach-O (thin or fat/universal) or PE file by its magic number.
 * Anything else is a `not_executable` GosymdError.
 */
import { GosymdError } from "../bytes/errors.js";
import type { ByteSource } from "../bytes/source.js";
import { hex, readAt } from "./common.js";
import { isElf, openElf } from "./elf.js";
import { isFatMagic, isMachoMagic, looksLikeFat, openMacho } from "./macho.js";
import { isPe, openPe } from "./pe.js";
import type { Arch, ObjectFile } from "./types.js";

export interface OpenObjectOptions {
  /** For fat Mach-O files: the architecture to pick (default amd64, then arm64, then the first). */
  arch?: Arch;
}

export type SniffedFormat = "elf" | "macho" | "macho-fat" | "pe";

/** The container format by magic, or undefined. Reads at most the first 4 KiB (PE header check). */
export function sniffFormat(source: ByteSource): SniffedFormat | undefined {
  if (source.size < 4) return undefined;
  const head = source.read(0, Math.min(source.size, 64), "magic");
  if (isElf(head)) return "elf";
  if (isMachoMagic(head)) return "macho";
  if (isFatMagic(head) && looksLikeFat(source)) return "macho-fat";
  if (isPe(source)) return "pe";
  return undefined;
}

/** Opens an executable (or ELF core) through `source`, reading only its headers. */
export function openObject(source: ByteSource, opts: OpenObjectOptions = {}): ObjectFile {
  const fmt = sniffFormat(source);
  switch (fmt) {
    case "elf":
      return openElf(source);
    case "macho":
    case "macho-fat":
      return openMacho(source, opts);
    case "pe":
      return openPe(source);
    default: {
      if (source.size < 4) {
        throw new GosymdError(
          "not_executable",
          `not an executable: the file is only ${source.size} bytes; gosymd reads ELF, Mach-O and PE files`,
          { offset: 0 },
        );
      }
      const magic = hex(readAt(source, 0, 4, "file", "magic"));
      throw new GosymdError(
        "not_executable",
        `not an executable: unrecognized magic 0x${magic}; gosymd reads ELF, Mach-O and PE files`,
        { offset: 0, hint: "pass the program binary itself (not an archive, script or debug-info file)" },
      );
    }
  }
}
