/**
 * Caps that bound every allocation and loop driven by untrusted input. Decoders check counts read
 * from the input against these *and* against the bytes that remain before allocating or looping.
 */
export const Limits = {
  /** Largest executable we read (bytes). */
  maxBinaryBytes: 4 * 1024 * 1024 * 1024,
  /** Most ELF section / program headers, Mach-O load commands, PE sections. */
  maxSections: 65_535,
  maxLoadCommands: 65_535,
  /** Most symbols read from a symbol table. */
  maxSymbols: 20_000_000,
  /** Most functions in a pclntab. */
  maxFuncs: 10_000_000,
  /** Most entries in a pc-value table walk (each entry is >= 2 bytes, so also bounded by size). */
  maxPcValueSteps: 10_000_000,
  /** Deepest inline chain we will expand for one PC. */
  maxInlineDepth: 1024,
  /** Longest NUL-terminated string (function or file name). */
  maxStringBytes: 1 << 20,
  /** Most notes in one note segment/section. */
  maxNotes: 100_000,
  /** Fat Mach-O: most architectures. */
  maxFatArches: 64,
  /** buildinfo modinfo blob. */
  maxModInfoBytes: 16 * 1024 * 1024,
} as const;
