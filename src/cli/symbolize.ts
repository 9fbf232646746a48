import { parseArgs } from "node:util";
import { GosymdError } from "../bytes/errors.js";
import type { FrameLines, GoBinary, Resolution } from "../symtab/index.js";
import { frameLinesOf, newFrameLines, openBinaryFile } from "../symtab/index.js";
import { parseBase, scanAddressBytes } from "./addresses.js";
import { EXIT, reportError, usageError } from "./io.js";
import type { locationJson } from "./json.js";
import { TextOut } from "./text-out.js";

export const symbolizeHelp = `Usage: gosymd symbolize --binary FILE [options] [ADDR...]
       gosymd symbolize --server URL --build-id ID [options] [ADDR...]

Turns addresses into function, file and line, with every inlined frame expanded from the
binary's pclntab (no DWARF needed; stripped binaries work).

Addresses come as arguments or, when none are given, from stdin (one or more per line;
"0x" hex or decimal; '#' starts a comment). Output follows stdin as it arrives, so gosymd can
be driven interactively like addr2line.

Options:
  --binary FILE        the Go executable (ELF, Mach-O or PE; any arch; PIE or not)
  --base HEX           load base to subtract: pass runtime addresses of a PIE process
                       (e.g. the start of the executable's first mapping in /proc/PID/maps)
  --return-addresses   addresses are return addresses (stack-walk PCs): look up pc-1
  --arch ARCH          for fat Mach-O files: which slice (amd64, arm64...)
  --json               one JSON object per address (NDJSON), innermost frame first
  -a, --addresses      text output: print each address before its frames
  --server URL         ask a gosymd server instead of reading the binary here
  --build-id ID        with --server: the binary's build ID (GNU, Go, Mach-O UUID or sha256:HEX)
  -h, --help           this help

Text output is like \`go tool addr2line\`: a function line, then a file:line line, once per
frame, innermost (inlined) frames first; "?" and "?:0" when an address has no answer.

Examples:
  gosymd symbolize --binary ./server 0x4a5b20 0x4a5c08
  go tool nm ./server | awk '$2=="T"{print "0x"$1}' | gosymd symbolize --binary ./server --json
  gosymd symbolize --binary ./server --base 0x55d4c0a00000 0x55d4c0e5b120
`;

export async function symbolizeCommand(argv: string[]): Promise<number> {
  let opts: ReturnType<typeof parse>;
  try {
    opts = parse(argv);
  } catch (e) {
    return reportError(usageError((e as Error).message, "run `gosymd symbolize --help`"), "symbolize");
  }
  const v = opts.values;
  if (v.help) {
    process.stdout.write(symbolizeHelp);
    return EXIT.ok;
  }
  try {
    if (v.server !== undefined) {
      const { remoteSymbolize } = await import("./client.js");
      return await remoteSymbolize({
        server: v.server,
        buildId: v["build-id"],
        json: v.json === true,
        base: v.base,
        returnAddresses: v["return-addresses"] === true,
        printAddresses: v.addresses === true,
        addresses: opts.positionals,
      });
    }
    if (v.binary === undefined) throw usageError("--binary FILE (or --server URL) is required");
    let base = 0n;
    if (v.base !== undefined) {
      const b = parseBase(v.base);
      if (b === undefined) throw usageError(`--base: not a hex number: ${JSON.stringify(v.base)}`);
      base = b;
    }
    // The content hash identifies binaries for the service; a one-shot lookup never needs it,
    // nor the container's symbols unless an address lies outside the Go functions.
    const bin = openBinaryFile(v.binary, {
      sha256: null,
      lazySymbols: true,
      ...(v.arch === undefined ? {} : { arch: v.arch as never }),
    });
    const fmt: Formatter = {
      ...(v.json === true ? { locationJson: (await import("./json.js")).locationJson } : {}),
      json: v.json === true,
      printAddresses: v.addresses === true,
      base,
      returnAddresses: v["return-addresses"] === true,
    };
    if (opts.positionals.length > 0) {
      process.stdout.write(formatTokens(bin, opts.positionals, fmt));
    } else {
      await streamStdin(bin, fmt);
    }
    return EXIT.ok;
  } catch (e) {
    return reportError(e, "symbolize");
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      binary: { type: "string" },
      base: { type: "string" },
      arch: { type: "string" },
      json: { type: "boolean" },
      addresses: { type: "boolean", short: "a" },
      "return-addresses": { type: "boolean" },
      server: { type: "string" },
      "build-id": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

interface Formatter {
  /** --json's encoder, loaded only then (it pulls in the generated protobuf code). */
  locationJson?: typeof locationJson;
  json: boolean;
  printAddresses: boolean;
  base: bigint;
  returnAddresses: boolean;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The link-time pc of one address value (as scanned): the base subtracted, pc−1 for return
 * addresses; −1 when below the base or beyond 2^53.
 */
function pcOf(value: number | bigint, f: Formatter, baseNum: number): number {
  if (typeof value === "number" && baseNum >= 0) {
    const pc = value - baseNum;
    return f.returnAddresses && pc > 0 ? pc - 1 : pc;
  }
  let pc = BigInt(value) - f.base;
  if (f.returnAddresses && pc > 0n) pc -= 1n;
  return pc >= 0n && pc <= MAX_SAFE ? Number(pc) : -1;
}

const INVALID: Resolution = {
  frames: [],
  reason: "invalid_address",
  detail: "address below the load base or beyond 2^53",
};

/** Text output's frames of one address into `lines` (the bulk path when the binary has one). */
function textFrames(bin: GoBinary, pc: number): number {
  return bin.frameLines !== undefined
    ? bin.frameLines(pc, lines)
    : frameLinesOf(bin.resolve(pc).frames, lines);
}

function formatTokens(bin: GoBinary, tokens: Iterable<string>, f: Formatter): Buffer {
  const out: Buffer[] = [];
  formatText(bin, Buffer.from(Array.from(tokens).join("\n")), f, (s) => {
    out.push(typeof s === "string" ? Buffer.from(s) : Buffer.from(s.buffer, s.byteOffset, s.byteLength));
  });
  return Buffer.concat(out);
}

/**
 * JSON output is handed on in pieces of about this many characters: a string built by
 * concatenation is a rope, and turning a long one into bytes costs far more per byte than a short
 * one (measured: 25 MB of output 4x slower as one string than in 64 KiB pieces).
 */
const PIECE_CHARS = 1 << 16;

/** Text output's frames of one address (reused: `frameLines` fills it). */
const lines: FrameLines = newFrameLines();

const NO_FRAMES = "?\n?:0\n";

/** Formats every address in `input`, handing the output to `emit` in pieces. */
function formatText(
  bin: GoBinary,
  input: Uint8Array,
  f: Formatter,
  emit: (piece: string | Uint8Array) => void,
  /** Text output's writer (handing its pieces to `emit`), kept across calls; a new one if none. */
  text: TextOut = new TextOut(emit),
): void {
  const baseNum = f.base <= MAX_SAFE ? Number(f.base) : -1;
  if (f.json) {
    let out = "";
    scanAddressBytes(input, 0, input.length, (value, tok) => {
      if (out.length >= PIECE_CHARS) {
        emit(out);
        out = "";
      }
      const pc = value === undefined ? -1 : pcOf(value, f, baseNum);
      const res: Resolution =
        value === undefined
          ? { frames: [], reason: "invalid_address", detail: `not an address: ${JSON.stringify(tok)}` }
          : pc >= 0
            ? bin.resolve(pc)
            : INVALID;
      out += `${JSON.stringify(f.locationJson!(value === undefined ? undefined : BigInt(value), tok, res))}\n`;
    });
    if (out !== "") emit(out);
    return;
  }
  // Text: bytes written as they are found (see TextOut), like addr2line's two lines per frame.
  const out = text;
  scanAddressBytes(input, 0, input.length, (value, tok) => {
    if (value === undefined) {
      if (f.printAddresses) {
        out.text(tok);
        out.byte(NL);
      }
      out.text(NO_FRAMES);
      return;
    }
    const pc = pcOf(value, f, baseNum);
    if (f.printAddresses) {
      out.text(`0x${value.toString(16)}`);
      out.byte(NL);
    }
    const n = pc >= 0 ? textFrames(bin, pc) : 0;
    if (n === 0) {
      out.text(NO_FRAMES);
      return;
    }
    for (let k = 0; k < n; k++) {
      out.text(lines.nameText[k]!, lines.nameStart[k]!, lines.nameEnd[k]!);
      out.byte(NL);
      const fl = lines.file[k]!;
      if (fl === "") out.byte(QUESTION);
      else out.cached(fl);
      out.byte(COLON);
      out.uint(lines.line[k]!);
      out.byte(NL);
    }
  });
  out.flush();
}

const NL = 0x0a;
const COLON = 0x3a;
const QUESTION = 0x3f;

/** Resolves once stdout has drained, or has closed (a reader gone away never drains). */
function stdoutDrained(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.stdout.off("drain", done);
      process.stdout.off("close", done);
      resolve();
    };
    process.stdout.once("drain", done);
    process.stdout.once("close", done);
  });
}

/** Processes stdin chunk by chunk so interactive use (one address per write) gets answers at once. */
async function streamStdin(bin: GoBinary, f: Formatter): Promise<void> {
  // Bytes as read (addresses are ASCII; a newline byte never occurs inside a UTF-8 sequence).
  let carry: Buffer | undefined;
  let full = false;
  const out = process.stdout;
  const write = (s: string | Uint8Array): boolean => {
    if (!out.write(s)) full = true;
    // Written through already (stdout to a file or pipe is synchronous on Linux): the text
    // writer may fill the same buffer again.
    return out.writableLength === 0;
  };
  // One writer for the whole input, so file names are encoded once, not once per chunk.
  const text = new TextOut(write);
  const flush = (input: Uint8Array): Promise<void> | undefined => {
    if (input.length === 0) return undefined;
    full = false;
    formatText(bin, input, f, write, text);
    return full ? stdoutDrained() : undefined;
  };
  for await (const chunk of process.stdin) {
    const c = chunk as Buffer;
    const data = carry === undefined ? c : Buffer.concat([carry, c]);
    const nl = data.lastIndexOf(10);
    if (nl < 0) {
      carry = data;
      if (carry.length > 1 << 20) throw new GosymdError("invalid_argument", "stdin line longer than 1 MiB");
      continue;
    }
    carry = nl + 1 < data.length ? data.subarray(nl + 1) : undefined;
    const wait = flush(data.subarray(0, nl));
    if (wait) await wait;
  }
  const wait = flush(carry ?? Buffer.alloc(0));
  if (wait) await wait;
}
