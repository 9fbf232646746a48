import { GosymdError, isGosymdError, toGosymdError } from "../bytes/errors.js";

/** Exit codes: 0 ok, 1 the input was bad or not found (user error), 2 usage, 3 internal/unavailable. */
export const EXIT = { ok: 0, input: 1, usage: 2, failure: 3 } as const;

export function usageError(message: string, hint?: string): GosymdError {
  return new GosymdError("invalid_argument", message, hint === undefined ? {} : { hint });
}

/** Prints an error the way a person can act on it, returns the exit code. */
export function reportError(e: unknown, command: string): number {
  const err = toGosymdError(e);
  const lines = [`gosymd ${command}: ${err.message}`];
  const hint = err.hint ?? defaultHint(err);
  if (hint) lines.push(`  hint: ${hint}`);
  if (err.kind === "internal" && process.env.GOSYMD_DEBUG)
    lines.push(String((err.cause as Error)?.stack ?? err.stack));
  process.stderr.write(`${lines.join("\n")}\n`);
  if (!isGosymdError(e) && err.kind === "internal") return EXIT.failure;
  switch (err.kind) {
    case "invalid_argument":
      return EXIT.usage;
    case "internal":
    case "unavailable":
      return EXIT.failure;
    default:
      return EXIT.input;
  }
}

function defaultHint(err: GosymdError): string | undefined {
  switch (err.kind) {
    case "not_executable":
      return "pass a Go executable (ELF, Mach-O or PE), not a source file, archive or core dump";
    case "not_go":
      return "this executable has no Go metadata; was it built with the Go toolchain?";
    case "unsupported":
      return "please report this binary's `go version -m` output so support can be added";
    case "invalid_argument":
      return "run with --help for usage";
    default:
      return undefined;
  }
}

/** Reads all of stdin as text (for address lists and crash logs). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Writes to stdout respecting backpressure; ignores EPIPE (e.g. `| head`). */
export function out(s: string): boolean {
  return process.stdout.write(s);
}
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
});
