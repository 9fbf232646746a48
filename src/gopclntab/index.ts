/**
 * The Go pclntab decoder: locate it in an ObjectFile, parse every format generation, look up
 * functions, lines and inline chains. `src/symtab` composes it with the container and buildinfo.
 */
export type { PclnHeader } from "./header.js";
export { MAGIC_12, MAGIC_116, MAGIC_118, MAGIC_120, parseHeader, sniffHeader } from "./header.js";
export type { FuncLayout, InlRecordKind } from "./layout.js";
export { funcLayout, goMinor } from "./layout.js";
export type { LocatedPclntab, Moduledata } from "./locate.js";
export { findModuledata, locatePclntab } from "./locate.js";
export type { ParseOptions } from "./table.js";
export { Expansion, PclnTable, parsePclntab } from "./table.js";
