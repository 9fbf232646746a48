/**
 * The one error model of gosymd. Every failure that is not a bug is a GosymdError with a kind;
 * the RPC edge (src/rpc) is the only place that maps kinds to gRPC codes, the CLI maps them to
 * exit codes and messages. Decoders attach what was wrong and where (format, field, byte offset).
 */
export type ErrorKind =
  /** The bytes are not an executable format we know (not ELF, Mach-O, PE). */
  | "not_executable"
  /** A valid executable, but no Go metadata (no pclntab / buildinfo). */
  | "not_go"
  /** The data ends before a structure it announces. */
  | "truncated"
  /** A structure is internally inconsistent (bad offset, bad count, loop, ...). */
  | "corrupt"
  /** A format/version we recognise but do not support (e.g. an unknown pclntab magic). */
  | "unsupported"
  /** A configured limit (size, count, steps) was exceeded. */
  | "limit_exceeded"
  /** The thing asked for does not exist (unknown build ID, missing file). */
  | "not_found"
  /** The caller's request is malformed (bad flag, bad address syntax). */
  | "invalid_argument"
  /** An upstream (debuginfod, store) could not be reached or failed. */
  | "unavailable"
  /** The operation was cancelled or its deadline passed. */
  | "cancelled"
  | "deadline_exceeded"
  /** A bug: an invariant of ours did not hold. */
  | "internal";

export interface ErrorDetails {
  /** Which format was being read: "elf", "macho", "pe", "pclntab", "buildinfo", "core", "crash-text"... */
  format?: string;
  /** The structure or field: "section header 12", "functab", "_func.pcln"... */
  field?: string;
  /** Byte offset in the file (or in the named table, see `field`) where the problem was found. */
  offset?: number;
  /** A hint for the user: what to do about it. */
  hint?: string;
  cause?: unknown;
}

export class GosymdError extends Error {
  override readonly name = "GosymdError";
  readonly kind: ErrorKind;
  readonly format: string | undefined;
  readonly field: string | undefined;
  readonly offset: number | undefined;
  readonly hint: string | undefined;

  constructor(kind: ErrorKind, message: string, details: ErrorDetails = {}) {
    super(
      composeMessage(message, details),
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.kind = kind;
    this.format = details.format;
    this.field = details.field;
    this.offset = details.offset;
    this.hint = details.hint;
  }
}

function composeMessage(message: string, d: ErrorDetails): string {
  const where: string[] = [];
  if (d.format !== undefined) where.push(d.format);
  if (d.field !== undefined) where.push(d.field);
  if (d.offset !== undefined) where.push(`at offset ${d.offset} (0x${d.offset.toString(16)})`);
  return where.length > 0 ? `${message} [${where.join(", ")}]` : message;
}

export function isGosymdError(e: unknown): e is GosymdError {
  return e instanceof GosymdError;
}

/** Shorthand constructors used by the decoders. */
export const truncated = (format: string, field: string, offset: number, need?: number) =>
  new GosymdError(
    "truncated",
    need === undefined ? `data ends inside ${field}` : `data ends inside ${field} (needs ${need} bytes)`,
    { format, field, offset, hint: "the file looks cut short; re-copy or re-upload the complete file" },
  );

export const corrupt = (format: string, field: string, offset: number | undefined, what: string) =>
  new GosymdError("corrupt", what, { format, field, ...(offset === undefined ? {} : { offset }) });

/** Wrap anything thrown into a GosymdError (bugs become "internal"). */
export function toGosymdError(e: unknown): GosymdError {
  if (e instanceof GosymdError) return e;
  if (e instanceof Error && e.name === "AbortError")
    return new GosymdError("cancelled", e.message, { cause: e });
  const msg = e instanceof Error ? e.message : String(e);
  return new GosymdError("internal", `internal error: ${msg}`, { cause: e });
}
