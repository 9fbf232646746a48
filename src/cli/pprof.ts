/** `gosymd pprof`: symbolize a pprof profile whose locations are bare addresses. */
import { createWriteStream, readFileSync, rmSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { GosymdError } from "../bytes/errors.js";
import { FileSource } from "../bytes/source.js";
import { aliasKeys, binaryAliasKeys } from "../cache/aliases.js";
import { ProfileCompression } from "../gen/gosymd/v1/profile_pb.js";
import { openObject } from "../object/open.js";
import type { ProfileBinary, ProfileStats, ResolveBinary } from "../pprof/index.js";
import { DEFAULT_MAX_PROFILE_BYTES, symbolizeProfileTo } from "../pprof/index.js";
import { fromProfileStats } from "../rpc/profile.js";
import type { GoBinary } from "../symtab/index.js";
import { openBinaryFile } from "../symtab/index.js";
import { remoteSymbolizeProfile } from "./client.js";
import { EXIT, reportError, usageError } from "./io.js";

export const pprofHelp = `Usage: gosymd pprof --binary FILE [--binary FILE...] [options] IN [-o OUT]
       gosymd pprof --server URL [options] IN [-o OUT]

Fills in the functions, files, lines and inlined frames of a pprof profile (profile.proto,
gzipped or not) whose locations are bare addresses, as continuous profilers (eBPF agents,
Pyroscope, custom agents) send them. Each mapping's build ID picks the binary: its GNU build ID,
Go build ID, Mach-O UUID or sha256:HEX all match. Runtime addresses are mapped through the
mapping (start, limit, file offset) and the binary's segments, so PIE binaries work.

Locations that already have lines are kept (unless --redo); locations of unknown binaries are
left as they are and their build IDs are reported. A summary goes to stderr.

Options:
  --binary FILE        a Go executable the profile may name (repeatable)
  --server URL         symbolize on a gosymd server (SymbolizeProfile RPC): it finds the binaries
                       by build ID in its store or on debuginfod (see \`gosymd upload\`)
  -o, --output OUT     write the profile here (default: stdout, not a terminal)
  --redo               re-symbolize locations that already have lines
  --raw                write uncompressed profile.proto (default: gzipped, like runtime/pprof)
  --json-stats         print the summary as JSON (to stderr)
  --max-size BYTES     largest (inflated) profile accepted (default ${DEFAULT_MAX_PROFILE_BYTES})
  -h, --help           this help

IN is a file, or - for stdin.

Examples:
  gosymd pprof --binary ./server cpu.pb.gz -o cpu.symbolized.pb.gz
  gosymd pprof --binary ./server --binary ./worker --json-stats agent.pprof -o out.pprof
  go tool pprof -top out.pprof
`;

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      binary: { type: "string", multiple: true },
      server: { type: "string" },
      output: { type: "string", short: "o" },
      redo: { type: "boolean" },
      raw: { type: "boolean" },
      "json-stats": { type: "boolean" },
      "max-size": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

export async function pprofCommand(argv: string[]): Promise<number> {
  let opts: ReturnType<typeof parse>;
  try {
    opts = parse(argv);
  } catch (e) {
    return reportError(usageError((e as Error).message, "run `gosymd pprof --help`"), "pprof");
  }
  const v = opts.values;
  if (v.help) {
    process.stdout.write(pprofHelp);
    return EXIT.ok;
  }
  const opened: { path: string; binary: GoBinary }[] = [];
  let outPath: string | undefined;
  let wroteOutput = false;
  try {
    if (opts.positionals.length !== 1) {
      throw usageError(
        opts.positionals.length === 0 ? "no input profile given" : "give exactly one input profile",
        "run `gosymd pprof --help`",
      );
    }
    if (v.server !== undefined) {
      if (v.binary !== undefined) {
        throw usageError(
          "--binary and --server do not go together",
          "upload the binaries to the server (`gosymd upload`), or symbolize locally",
        );
      }
      const maxSize = v["max-size"] === undefined ? DEFAULT_MAX_PROFILE_BYTES : parseSize(v["max-size"]);
      outPath = v.output;
      if (outPath === undefined && process.stdout.isTTY) {
        throw usageError(
          "refusing to write a binary profile to a terminal",
          "use -o FILE or redirect stdout",
        );
      }
      const input = readInput(opts.positionals[0]!, maxSize);
      const res = await remoteSymbolizeProfile(v.server, input, {
        redo: v.redo === true,
        compression: v.raw === true ? ProfileCompression.NONE : ProfileCompression.GZIP,
      });
      const stats = fromProfileStats(res.stats);
      if (outPath === undefined) {
        await new Promise<void>((resolve, reject) =>
          process.stdout.write(res.profile, (e) => (e ? reject(e) : resolve())),
        );
      } else {
        wroteOutput = true;
        writeFileSync(outPath, res.profile);
      }
      process.stderr.write(v["json-stats"] === true ? `${JSON.stringify(stats)}\n` : summary(stats, []));
      return EXIT.ok;
    }
    const binaries = v.binary ?? [];
    if (binaries.length === 0)
      throw usageError("no --binary given", "name the profiled executables with --binary FILE");
    const maxSize = v["max-size"] === undefined ? DEFAULT_MAX_PROFILE_BYTES : parseSize(v["max-size"]);
    outPath = v.output;
    if (outPath === undefined && process.stdout.isTTY) {
      throw usageError("refusing to write a binary profile to a terminal", "use -o FILE or redirect stdout");
    }

    const byKey = new Map<string, ProfileBinary>();
    for (const path of binaries) {
      const binary = openBinaryFile(path);
      opened.push({ path, binary });
      let segments = binary.info.segments;
      if (segments === undefined) {
        const src = new FileSource(path);
        try {
          segments = openObject(src).segments;
        } finally {
          src.close();
        }
      }
      for (const k of binaryAliasKeys(binary.info.buildIds)) byKey.set(k, { binary, segments });
    }
    const resolver: ResolveBinary = (buildId) => {
      let keys: string[];
      try {
        keys = aliasKeys(buildId);
      } catch {
        return undefined; // not a build ID we could ever match
      }
      for (const k of keys) {
        const b = byKey.get(k);
        if (b !== undefined) return b;
      }
      return undefined;
    };

    const input = readInput(opts.positionals[0]!, maxSize);
    const dest = outPath;
    const sink = () => {
      if (dest === undefined) return process.stdout;
      wroteOutput = true;
      return createWriteStream(dest);
    };
    const stats = await symbolizeProfileTo(input, resolver, sink, {
      redo: v.redo === true,
      output: v.raw === true ? "raw" : "gzip",
      maxProfileBytes: maxSize,
    });
    process.stderr.write(v["json-stats"] === true ? `${JSON.stringify(stats)}\n` : summary(stats, opened));
    return EXIT.ok;
  } catch (e) {
    if (wroteOutput && outPath !== undefined) rmSync(outPath, { force: true });
    return reportError(e, "pprof");
  } finally {
    for (const o of opened) o.binary.close();
  }
}

function readInput(path: string, maxSize: number): Uint8Array {
  let buf: Buffer;
  try {
    buf = readFileSync(path === "-" ? 0 : path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new GosymdError("not_found", `no such file: ${path}`, { cause: e });
    throw new GosymdError("invalid_argument", `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (buf.length > maxSize) {
    throw new GosymdError(
      "limit_exceeded",
      `${path} is ${buf.length} bytes; at most ${maxSize} are accepted`,
      {
        hint: "raise --max-size if the profile is genuine",
      },
    );
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function parseSize(s: string): number {
  const m = /^(\d+)([kmg]i?b?)?$/i.exec(s.trim());
  if (!m) throw usageError(`bad --max-size ${JSON.stringify(s)}`, "bytes, optionally with K, M or G");
  const unit = (m[2] ?? "").toLowerCase()[0];
  const mul = unit === "k" ? 1024 : unit === "m" ? 1024 ** 2 : unit === "g" ? 1024 ** 3 : 1;
  const n = Number(m[1]) * mul;
  if (!Number.isSafeInteger(n) || n <= 0) throw usageError(`bad --max-size ${JSON.stringify(s)}`);
  return n;
}

function summary(s: ProfileStats, opened: { path: string; binary: GoBinary }[]): string {
  const lines = [
    `gosymd pprof: ${s.resolved} of ${s.locations} locations symbolized` +
      (s.alreadySymbolized > 0 ? `, ${s.alreadySymbolized} already had lines` : "") +
      (s.unresolved > 0 ? `, ${s.unresolved} unresolved` : "") +
      `; ${s.functionsAdded} functions added`,
  ];
  for (const m of s.perMapping) {
    if (m.locations === 0) continue;
    const what = m.error ?? (m.binaryFound ? "" : m.buildId === "" ? "no build ID" : "unknown build ID");
    lines.push(
      `  mapping ${m.mappingId} ${m.filename || "(no file)"}${m.buildId ? ` [${m.buildId}]` : ""}: ` +
        `${m.resolved}/${m.locations} resolved${m.alreadySymbolized ? `, ${m.alreadySymbolized} kept` : ""}` +
        (what ? ` (${what})` : ""),
    );
  }
  if (s.missingBuildIds.length > 0) {
    lines.push(`  missing build IDs: ${s.missingBuildIds.join(", ")}`);
    if (s.resolved === 0) {
      for (const o of opened) {
        const ids = o.binary.info.buildIds;
        lines.push(
          `  hint: ${o.path} has GNU build ID ${ids.gnu ?? "(none)"}, Go build ID ${ids.go ?? "(none)"}`,
        );
      }
    }
  }
  return `${lines.join("\n")}\n`;
}
