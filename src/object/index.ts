/**
 * Container layer: ELF, Mach-O (thin and fat) and PE readers behind `ObjectFile`, format sniffing,
 * and build identifiers. Decoders above this layer use only what is exported here.
 */
export { buildIdAliases, computeBuildIds, dashedUuid, gnuBuildId, goBuildId, sha256Of } from "./buildid.js";
export { ElfFile, openElf } from "./elf.js";
export { type FatSlice, listFatSlices, MachoFile, openMacho } from "./macho.js";
export { type OpenObjectOptions, openObject, type SniffedFormat, sniffFormat } from "./open.js";
export { openPe, PeFile, peCharacteristics } from "./pe.js";
export type {
  Arch,
  BuildIds,
  Note,
  ObjectFile,
  ObjectFormat,
  ObjSymbol,
  Os,
  Section,
  Segment,
  SymbolSource,
} from "./types.js";
