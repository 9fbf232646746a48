/**
 * A real CPU profile for the SymbolizeProfile tests: test/fixtures/go/pprof-oracle (cached build)
 * profiles itself with runtime/pprof, which symbolizes it (inlined frames too) and records the
 * executable's GNU build ID; the copy with every Function and Line stripped is what an agent
 * sends, and the runtime's own lines are the oracle.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { openBinaryFile } from "../../src/symtab/index.js";
import { decodeProfile, type PProfile, stripProfile } from "../pprof/support.js";
import { goBuild, newestGo } from "../support/fixtures.js";

export interface RealProfile {
  exe: string;
  gnu: string;
  orig: PProfile;
  /** The runtime's gzipped profile file. */
  origFile: string;
  /** Stripped, gzipped. */
  bare: Uint8Array;
}

export function realProfile(dir: string, duration = "400ms"): RealProfile {
  const exe = goBuild("pprof-oracle", { go: newestGo()!, flags: ["-ldflags=-B gobuildid"] });
  const origFile = join(dir, "orig.pb.gz");
  const bin = openBinaryFile(exe);
  bin.close();
  const gnu = bin.info.buildIds.gnu;
  if (!gnu) throw new Error(`${exe} has no GNU build ID`);
  // A CPU profile holds what the program ran while it was sampled: on a loaded machine 400 ms
  // can give too few of the executable's locations for the tests, so record longer until it
  // has MIN_EXE_LOCATIONS (the tests assert that count themselves).
  let orig: PProfile | undefined;
  for (const d of [duration, "1500ms", "4s"]) {
    execFileSync(exe, [origFile, d], { stdio: ["ignore", "ignore", "pipe"] });
    orig = decodeProfile(gunzipSync(readFileSync(origFile)));
    if (exeLines(orig, gnu).size >= MIN_EXE_LOCATIONS) break;
  }
  return { exe, gnu, orig: orig!, origFile, bare: stripProfile(orig!) };
}

/** Executable locations a recorded profile should have for the tests to mean something. */
export const MIN_EXE_LOCATIONS = 20;

/** Location id → "function|system name|file|start line|line" per line, for the executable's mapping. */
export function exeLines(p: PProfile, gnu: string): Map<string, string[]> {
  const s = (i: string) => p.string_table[Number(i)]!;
  const m = p.mapping.find((x) => s(x.build_id) === gnu);
  if (!m) throw new Error(`no mapping with build ID ${gnu}`);
  const fns = new Map(p.function.map((f) => [f.id, f]));
  return new Map(
    p.location
      .filter((l) => l.mapping_id === m.id)
      .map((l) => [
        l.id,
        l.line.map((ln) => {
          const f = fns.get(ln.function_id)!;
          return `${s(f.name)}|${s(f.system_name)}|${s(f.filename)}|${f.start_line}|${ln.line}`;
        }),
      ]),
  );
}
