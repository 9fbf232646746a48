/**
 * Shared helpers for the object/buildinfo tests: the build matrix of test/fixtures/go/hello, and
 * the oracles (readelf, go tool buildid, go version -m, and objinfo — a Go program printing what
 * Go's debug/elf, debug/macho and debug/pe read).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { goBin, goBuild, newestGo, npmFixture, npmFixtureList } from "../support/fixtures.js";

/** Newest installed Debian toolchain (the oracle `go` binary). */
export function oracleGo(): string {
  const v = newestGo();
  if (v === undefined) throw new Error("no Go toolchain installed (run scripts/install-system-deps.sh)");
  return goBin(v);
}

export interface HelloBuild {
  name: string;
  go: string;
  flags?: string[];
  env?: Record<string, string>;
}

/** The builds of test/fixtures/go/hello the tests use (each is compiled once and cached). */
export const HELLO_BUILDS: HelloBuild[] = [
  { name: "go1.19", go: "1.19" },
  { name: "go1.21", go: "1.21" },
  { name: "go1.22", go: "1.22" },
  { name: "go1.23", go: "1.23" },
  { name: "trimpath-stripped", go: "1.23", flags: ["-trimpath", "-ldflags=-s -w"] },
  { name: "pie", go: "1.23", flags: ["-buildmode=pie"] },
  { name: "gnu-buildid", go: "1.23", flags: ["-ldflags=-B gobuildid"] },
  // A build setting Go must quote (space, double quotes, tab) and a quoted -tags value.
  { name: "quoted-ldflags", go: "1.22", flags: ["-tags=a,b", "-ldflags=-X 'main.note=a \"q\"\tb' -s"] },
  { name: "linux-arm64", go: "1.23", env: { GOARCH: "arm64" } },
  { name: "linux-386", go: "1.23", env: { GOARCH: "386" } },
  { name: "linux-ppc64", go: "1.23", env: { GOARCH: "ppc64" } },
  { name: "linux-mips", go: "1.23", env: { GOARCH: "mips" } },
  { name: "darwin-arm64", go: "1.23", env: { GOOS: "darwin", GOARCH: "arm64" } },
  {
    name: "darwin-amd64-uuid",
    go: "1.23",
    flags: ["-ldflags=-B gobuildid"],
    env: { GOOS: "darwin", GOARCH: "amd64" },
  },
  { name: "windows-amd64", go: "1.23", env: { GOOS: "windows", GOARCH: "amd64" } },
  {
    name: "windows-386-stripped",
    go: "1.23",
    flags: ["-ldflags=-s -w"],
    env: { GOOS: "windows", GOARCH: "386" },
  },
];

export function helloBuild(name: string): string {
  const b = HELLO_BUILDS.find((x) => x.name === name);
  if (b === undefined) throw new Error(`unknown hello build ${name}`);
  return goBuild("hello", {
    go: b.go,
    ...(b.flags ? { flags: b.flags } : {}),
    ...(b.env ? { env: b.env } : {}),
  });
}

/** `objcopy --strip-all` of a hello build (cached next to it). */
export function strippedCopy(name: string): string {
  const src = helloBuild(name);
  const out = `${src}.objcopy-strip-all`;
  if (!existsSync(out)) {
    const tmp = `${out}.tmp-${process.pid}`;
    copyFileSync(src, tmp);
    execFileSync("objcopy", ["--strip-all", tmp]);
    renameSync(tmp, out);
  }
  return out;
}

export interface NamedBinary {
  name: string;
  path: string;
}

export function npmBinaries(filter: (name: string) => boolean = () => true): NamedBinary[] {
  return npmFixtureList()
    .filter((f) => filter(f.name))
    .map((f) => ({ name: f.name, path: npmFixture(f.name) }));
}

export function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, {
    encoding: "utf8",
    maxBuffer: 512 * 1024 * 1024,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** `go tool buildid FILE`, or undefined when it fails / prints nothing. */
export function goToolBuildid(path: string): string | undefined {
  const r = spawnSync(oracleGo(), ["tool", "buildid", path], { encoding: "utf8" });
  if (r.status !== 0) return undefined;
  const s = r.stdout.trim();
  return s === "" ? undefined : s;
}

/**
 * `go version -m FILE` as {goVersion, lines}: the lines after the first with their leading tab
 * removed (the BuildInfo.String() text without the go line); undefined when Go cannot read it.
 */
export function goVersionM(path: string): { goVersion: string; text: string } | undefined {
  const r = spawnSync(oracleGo(), ["version", "-m", path], { encoding: "utf8" });
  if (r.status !== 0) return undefined;
  const out = r.stdout;
  const nl = out.indexOf("\n");
  const first = out.slice(0, nl);
  const m = /: (.*)$/.exec(first.slice(path.length));
  if (!m || m[1]!.startsWith("could not")) return undefined;
  const rest = out
    .slice(nl + 1)
    .split("\n")
    .map((l) => (l.startsWith("\t") ? l.slice(1) : l))
    .join("\n");
  return { goVersion: m[1]!, text: rest };
}

export interface OracleSection {
  name: string;
  segment?: string;
  addr: number;
  size: number;
  offset: number;
  fileSize: number;
}
export interface OracleReport {
  format: string;
  cpu: string;
  entry: number;
  imageBase: number;
  sections: OracleSection[] | null;
  segments: Array<{
    name?: string;
    vaddr: number;
    memSize: number;
    offset: number;
    fileSize: number;
    prot: number;
  }> | null;
  symbols: Array<{ name: string; addr: number }> | null;
  uuid?: string;
  pie: boolean;
}

let objinfoBin: string | undefined;
function objinfo(): string {
  const v = newestGo();
  if (v === undefined) throw new Error("no Go toolchain installed");
  objinfoBin ??= goBuild("objinfo", { go: v });
  return objinfoBin;
}

/** What Go's debug/* packages read from a thin file. */
export function goObjInfo(path: string): OracleReport {
  return JSON.parse(run(objinfo(), [path])) as OracleReport;
}

/** What Go's debug/macho reads from a fat file. */
export function goFatInfo(
  path: string,
): Array<{ cpu: string; offset: number; size: number; report: OracleReport }> {
  return JSON.parse(run(objinfo(), ["-fat", path])) as Array<{
    cpu: string;
    offset: number;
    size: number;
    report: OracleReport;
  }>;
}

/** Assembles a fat Mach-O (fat_arch entries, 2^14-aligned slices) from thin Mach-O files. */
export function fatBytes(thins: string[]): Buffer {
  const bufs = thins.map((p) => readFileSync(p));
  const align = 1 << 14;
  const hdr = Buffer.alloc(8 + 20 * bufs.length);
  hdr.writeUInt32BE(0xcafebabe, 0);
  hdr.writeUInt32BE(bufs.length, 4);
  let off = align;
  const parts: Buffer[] = [hdr];
  let pos = hdr.length;
  bufs.forEach((b, i) => {
    hdr.writeUInt32BE(b.readUInt32LE(4), 8 + i * 20); // cputype
    hdr.writeUInt32BE(b.readUInt32LE(8), 12 + i * 20); // cpusubtype
    hdr.writeUInt32BE(off, 16 + i * 20);
    hdr.writeUInt32BE(b.length, 20 + i * 20);
    hdr.writeUInt32BE(14, 24 + i * 20);
    parts.push(Buffer.alloc(off - pos), b);
    pos = off + b.length;
    off = Math.ceil(pos / align) * align;
  });
  return Buffer.concat(parts);
}

/** `fatBytes` written to `out` (once). */
export function makeFat(thins: string[], out: string): void {
  if (existsSync(out)) return;
  const tmp = `${out}.tmp-${process.pid}`;
  writeFileSync(tmp, fatBytes(thins));
  renameSync(tmp, out);
}
