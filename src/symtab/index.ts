/**
 * Public entry point of the engine: open a binary, resolve addresses. Implementation lives in
 * ./binary.ts (composes object → gopclntab → buildinfo → symtab).
 */
export type { BinaryInfo, GoBinary, OpenOptions, PclntabInfo, PclntabVersion } from "./api.js";
export { frameLinesOf, openBinary, openBinaryFile } from "./binary.js";
export type { Frame, FrameLines, Resolution, UnresolvedReason } from "./types.js";
export { newFrameLines } from "./types.js";
