import { parseArgs } from "node:util";
import type { Module } from "../buildinfo/types.js";
import type { BinaryInfo } from "../symtab/index.js";
import { openBinaryFile } from "../symtab/index.js";
import { EXIT, reportError, usageError } from "./io.js";

export const infoHelp = `Usage: gosymd info --binary FILE [--json] [--arch ARCH]

Describes a Go executable: container format, architecture, OS, every build ID (GNU, Go,
Mach-O UUID, sha256), Go version, pclntab format and size, function count, main module,
dependencies and build settings (from the embedded buildinfo).

Options:
  --binary FILE   the executable (a bare FILE argument works too)
  --json          machine-readable output
  --arch ARCH     for fat Mach-O files: which slice
  -h, --help      this help

Example:
  gosymd info --binary ./server
  gosymd info --json ./server | jq .buildIds
`;

export async function infoCommand(argv: string[]): Promise<number> {
  try {
    const { values: v, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        binary: { type: "string" },
        json: { type: "boolean" },
        arch: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (v.help) {
      process.stdout.write(infoHelp);
      return EXIT.ok;
    }
    const file = v.binary ?? positionals[0];
    if (file === undefined) throw usageError("--binary FILE is required");
    const bin = openBinaryFile(file, v.arch === undefined ? {} : { arch: v.arch as never });
    bin.close();
    process.stdout.write(
      v.json ? `${JSON.stringify(infoJson(bin.info), null, 2)}\n` : infoText(file, bin.info),
    );
    return EXIT.ok;
  } catch (e) {
    return reportError(e, "info");
  }
}

/** JSON form (the field names of `gosymd.v1.BinaryInfo` in proto-JSON). */
export function infoJson(i: BinaryInfo): Record<string, unknown> {
  return {
    format: i.format,
    arch: i.arch,
    os: i.os,
    ptrSize: i.ptrSize,
    pie: i.pie,
    size: String(i.size),
    buildIds: i.buildIds,
    goVersion: i.goVersion,
    ...(i.pclntab
      ? {
          pclntab: {
            ...i.pclntab,
            magic: `0x${i.pclntab.magic.toString(16)}`,
            textStart: String(i.pclntab.textStart),
            addr: String(i.pclntab.addr),
          },
        }
      : {}),
    ...(i.buildInfo ? { buildInfo: i.buildInfo } : {}),
    symbolCount: i.symbolCount,
  };
}

const n = (x: number) => x.toLocaleString("en-US");
const mod = (m: Module) =>
  `${m.path} ${m.version}${m.sum ? ` ${m.sum}` : ""}${m.replace ? ` => ${m.replace.path} ${m.replace.version}` : ""}`;

export function infoText(file: string, i: BinaryInfo): string {
  const l: string[] = [];
  const row = (k: string, val: string) => l.push(`${(k === "" ? "" : `${k}:`).padEnd(14)}${val}`);
  row("File", `${file} (${n(i.size)} bytes)`);
  row(
    "Format",
    `${i.format.toUpperCase()} ${i.ptrSize * 8}-bit, ${i.arch}, ${i.os}${i.pie ? ", position-independent (PIE)" : ""}`,
  );
  row("Go version", i.goVersion || "unknown");
  if (i.buildIds.gnu) row("GNU build ID", i.buildIds.gnu);
  if (i.buildIds.go) row("Go build ID", i.buildIds.go);
  if (i.buildIds.machoUuid) row("Mach-O UUID", i.buildIds.machoUuid);
  row("SHA-256", i.buildIds.sha256);
  const p = i.pclntab;
  if (p) {
    row(
      "pclntab",
      `Go ${p.version}+ format (magic 0x${p.magic.toString(16)}), quantum ${p.quantum}, pointer size ${p.ptrSize}`,
    );
    row("", `${n(p.size)} bytes at 0x${p.addr.toString(16)}, found by ${p.foundBy}`);
    row("Functions", n(p.funcCount));
    if (p.fileCount > 0) row("Files", n(p.fileCount));
    row(
      "Inlining",
      p.inlineTrees ? "inline trees present: inlined frames are expanded" : "no inline trees read",
    );
  } else {
    row("pclntab", "none found (not a Go binary, or Go metadata removed)");
  }
  row("Symbols", i.symbolCount > 0 ? n(i.symbolCount) : "none (stripped)");
  const b = i.buildInfo;
  if (b) {
    if (b.path) row("Main package", b.path);
    if (b.main.path) row("Main module", `${b.main.path} ${b.main.version}`);
    if (b.deps.length > 0) {
      l.push(`Dependencies (${b.deps.length}):`);
      for (const d of b.deps) l.push(`  ${mod(d)}`);
    }
    if (b.settings.length > 0) {
      l.push("Build settings:");
      for (const s of b.settings) l.push(`  ${s.key}=${s.value}`);
    }
  } else {
    row("Build info", "none (built before Go 1.13, or removed)");
  }
  return `${l.join("\n")}\n`;
}
