/**
 * What a lookup returns. Frame arrays are always INNERMOST FIRST: frames[0] is the function the PC
 * is in after inlining (the deepest inlined callee), frames[frames.length - 1] the physical
 * function that owns the machine code.
 */
export interface Frame {
  /** Fully qualified Go symbol name, e.g. "github.com/x/y.(*T).Method" or "main.main.func1". */
  function: string;
  /** Source file as recorded in the binary ("" when unknown, e.g. symbol-table answers). */
  file: string;
  /** 1-based line, 0 when unknown. */
  line: number;
  /** Line of the `func` keyword (Go 1.20+ pclntab, inlined frames included); 0 when unknown. */
  startLine: number;
  /** Entry address of the physical function (link-time). For inlined frames, the physical function's entry. */
  entry: number;
  /** True when this frame was inlined into its caller (every frame but the last of a chain). */
  inlined: boolean;
  /** Import path of the function's package ("" for C symbols). */
  packagePath: string;
  /** Module that contains the package, from buildinfo (longest matching module path); "" if unknown. */
  modulePath: string;
  moduleVersion: string;
  /** Where the answer came from. */
  source: "pclntab" | "symtab";
  /**
   * True for compiler-generated wrappers (FuncID wrapper: pointer-receiver and method-value
   * wrappers, `go` statement wrappers, runtime.deferreturn...), which Go tracebacks and
   * runtime/pprof leave out. Undefined when the resolver does not say.
   */
  wrapper?: boolean;
}

/** Why an address got no frames. Per-address, never a failed request. */
export type UnresolvedReason =
  /** The address is not inside any loaded segment of the binary. */
  | "outside_binary"
  /** Inside the binary, but no Go function and no symbol covers it. */
  | "no_symbol"
  /** The address (after base adjustment) is negative or beyond 2^53. */
  | "invalid_address"
  /** The covering function's tables are damaged. */
  | "corrupt_tables";

export interface Resolution {
  frames: Frame[];
  /** Set iff frames is empty. */
  reason?: UnresolvedReason;
  /** Human detail for the reason (e.g. the decoding error). */
  detail?: string;
}

/**
 * The frames of one address as parallel arrays, innermost first (`GoBinary.frameLines`): function
 * name, file ("" when unknown) and line (0 when unknown). Reused across calls by bulk output paths.
 * Function name k is `nameText[k].slice(nameStart[k], nameEnd[k])` (set by `setFrameName`): most
 * names are ranges of the table's one names string, so the bulk path makes no string per frame and
 * a writer can copy the characters straight to its output.
 */
export interface FrameLines {
  readonly nameText: string[];
  readonly nameStart: number[];
  readonly nameEnd: number[];
  readonly file: string[];
  readonly line: number[];
}

/** An empty FrameLines to be filled (and reused). */
export function newFrameLines(): FrameLines {
  return { nameText: [], nameStart: [], nameEnd: [], file: [], line: [] };
}

/** Sets frame k's function name to characters [start, end) of `text` (all of it by default). */
export function setFrameName(f: FrameLines, k: number, text: string, start = 0, end = text.length): void {
  f.nameText[k] = text;
  f.nameStart[k] = start;
  f.nameEnd[k] = end;
}
