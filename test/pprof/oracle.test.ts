/**
 * Oracle: the Go runtime symbolizes its own CPU profiles (runtime/pprof expands inlined frames
 * and records the executable's GNU build ID in the mapping). We build test/fixtures/go/pprof-oracle,
 * let it profile itself, strip every Function and Line (and the mapping flags) with an independent
 * protobuf codec, symbolize the bare profile from the binary, and require exactly the runtime's
 * functions, files, start lines, lines and inline chains for every location. Then a real client —
 * `go tool pprof` of the newest toolchain — must print the same -raw locations, -traces and -top
 * for our profile as for the runtime's.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { FileSource } from "../../src/bytes/source.js";
import { openObject } from "../../src/object/open.js";
import type { ProfileBinary } from "../../src/pprof/index.js";
import { symbolizeProfile } from "../../src/pprof/index.js";
import { openBinaryFile } from "../../src/symtab/index.js";
import { availableGoVersions, goBin, goBuild, newestGo } from "../support/fixtures.js";
import { decodeProfile, lineStrings as lines, stripProfile as strip } from "./support.js";

const dir = mkdtempSync(join(tmpdir(), "gosymd-pprof-oracle-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Variant {
  name: string;
  go: string;
  flags: string[];
  env?: Record<string, string>;
}

const VARIANTS: Variant[] = [
  { name: "go1.23 static, -B gobuildid", go: "1.23", flags: ["-ldflags=-B gobuildid"] },
  {
    name: "go1.23 PIE with cgo: libc, ld.so and vdso mappings; r-x mapping at a file offset",
    go: "1.23",
    flags: ["-buildmode=pie", "-ldflags=-B gobuildid"],
    env: { CGO_ENABLED: "1" },
  },
  {
    name: "go1.21 static, explicit -B build ID",
    go: "1.21",
    flags: ["-ldflags=-B 0x5eed0f9e0f1e5ca1ab1e0ddba11c0ffee0ddf00d"],
  },
];

export function openForProfile(path: string): { gnu: string; target: ProfileBinary } {
  const binary = openBinaryFile(path);
  const src = new FileSource(path);
  const segments = binary.info.segments ?? openObject(src).segments;
  src.close();
  assert.ok(binary.info.buildIds.gnu, `${path} has no GNU build ID`);
  return { gnu: binary.info.buildIds.gnu!, target: { binary, segments } };
}

function pprofTool(args: string[], file: string): string {
  return execFileSync(goBin(newestGo()!), ["tool", "pprof", "-symbolize=none", ...args, file], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

const section = (out: string, from: string, to: string) => out.slice(out.indexOf(from), out.indexOf(to));

describe("pprof oracle: runtime/pprof's own symbolization", () => {
  for (const v of VARIANTS) {
    const skip = !availableGoVersions().includes(v.go) && `go${v.go} not installed`;
    test(v.name, { skip }, async () => {
      const exe = goBuild("pprof-oracle", { go: v.go, flags: v.flags, ...(v.env ? { env: v.env } : {}) });
      const origFile = join(dir, `${v.go}-${VARIANTS.indexOf(v)}-orig.pb.gz`);
      const { gnu, target } = openForProfile(exe);
      // What a CPU profile holds depends on the CPU the program got while sampled: on a loaded
      // machine, record longer until it has enough of the executable's locations (asserted below).
      const record = (d: string) => {
        execFileSync(exe, [origFile, d], { stdio: ["ignore", "ignore", "pipe"] });
        return decodeProfile(gunzipSync(readFileSync(origFile)));
      };
      const exeLocations = (p: ReturnType<typeof decodeProfile>) => {
        const m = p.mapping.find((x) => p.string_table[Number(x.build_id)] === gnu);
        return m ? p.location.filter((l) => l.mapping_id === m.id).length : 0;
      };
      let orig = record("700ms");
      for (const d of ["2s", "4s"]) {
        if (exeLocations(orig) >= 20) break;
        orig = record(d);
      }
      const exeMapping = orig.mapping.find((m) => orig.string_table[Number(m.build_id)] === gnu);
      assert.ok(exeMapping, `the runtime recorded build ID ${gnu} for no mapping`);
      if (v.env?.CGO_ENABLED === "1") {
        const files = orig.mapping.map((m) => orig.string_table[Number(m.filename)] ?? "");
        assert.ok(files.some((f) => /libc\.so/.test(f)) && files.includes("[vdso]"), files.join(", "));
        assert.notEqual(exeMapping.file_offset, "0", "expected the r-x mapping at a non-zero file offset");
      }

      const want = lines(orig);
      const exeLocs = orig.location.filter((l) => l.mapping_id === exeMapping.id);
      assert.ok(exeLocs.length >= 20, `only ${exeLocs.length} locations; the profile is too thin`);
      assert.ok(
        [...want.values()].some((ls) => ls.length >= 3),
        "no location with a 3-deep inline chain; the fixture should have some",
      );

      const bare = strip(orig);
      assert.ok(decodeProfile(gunzipSync(bare)).location.every((l) => l.line.length === 0));
      const calls: string[] = [];
      const { profile, stats, gzipped } = await symbolizeProfile(bare, (id) => {
        calls.push(id);
        return id === gnu ? target : undefined;
      });
      assert.equal(gzipped, true);
      const ours = decodeProfile(gunzipSync(profile));
      const got = lines(ours);

      // Exactly the runtime's answer, location by location.
      let compared = 0;
      for (const l of orig.location) {
        assert.deepEqual(
          got.get(l.id),
          want.get(l.id),
          `location ${l.id} at 0x${BigInt(l.address).toString(16)}`,
        );
        compared++;
      }
      assert.equal(compared, orig.location.length);
      assert.equal(stats.resolved, exeLocs.length);
      assert.equal(stats.unresolved, orig.location.length - exeLocs.length);
      assert.deepEqual(stats.missingBuildIds, []);
      assert.deepEqual(calls, [gnu]);
      // Functions are deduplicated: one per (name, file, start line).
      const fkeys = ours.function.map((f) => `${f.name}|${f.filename}|${f.start_line}`);
      assert.equal(new Set(fkeys).size, fkeys.length);
      const m = ours.mapping.find((x) => x.id === exeMapping.id)!;
      assert.deepEqual(
        [m.has_functions, m.has_filenames, m.has_line_numbers, m.has_inline_frames],
        [true, true, true, true],
      );
      // Samples and everything else pass through.
      assert.deepEqual(ours.sample, orig.sample);
      assert.deepEqual(ours.sample_type, orig.sample_type);

      // A real client: go tool pprof prints the same for both.
      const oursFile = origFile.replace("-orig", "-ours");
      writeFileSync(oursFile, profile);
      const rawOrig = pprofTool(["-raw"], origFile);
      const rawOurs = pprofTool(["-raw"], oursFile);
      assert.equal(section(rawOurs, "Locations", "Mappings"), section(rawOrig, "Locations", "Mappings"));
      assert.ok(section(rawOurs, "Locations", "Mappings").split("\n").length > exeLocs.length);
      assert.equal(pprofTool(["-traces"], oursFile), pprofTool(["-traces"], origFile));
      assert.equal(
        pprofTool(["-top", "-nodecount=1000"], oursFile),
        pprofTool(["-top", "-nodecount=1000"], origFile),
      );
    });
  }
});
