/**
 * Builds and runs the crash-corpus Go program (test/fixtures/go/crash-corpus) for the crash tests.
 * Unlike test/support goBuild this hashes the whole tree (the program has internal packages) and
 * can build a "shifted" copy: every .go file with extra comment and blank lines at its top, so
 * every line number in every traceback moves while the code stays the same.
 */
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import { promisify } from "node:util";
import { CACHE, goBin, ROOT } from "../support/fixtures.js";

const execFileP = promisify(execFile);

export const CORPUS_SRC = join(ROOT, "test/fixtures/go/crash-corpus");
export const CORPUS_MODULE = "example.com/crashcorpus";

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** Lines inserted at the top of every .go file of a shifted copy. */
export const SHIFT_HEADER =
  "// Shifted copy for the fingerprint test.\n//\n// Every line below moved down.\n\n\n\n\n";

/** A copy of the corpus sources (shifted or not) under .cache; returns its directory. */
export function corpusSource(shift: boolean): string {
  if (!shift) return CORPUS_SRC;
  const files = walk(CORPUS_SRC);
  const h = createHash("sha256").update("shift-v1");
  for (const f of files) h.update(relative(CORPUS_SRC, f)).update(readFileSync(f));
  const dir = join(CACHE, "crash-corpus-src", `shift-${h.digest("hex").slice(0, 16)}`);
  if (existsSync(join(dir, ".complete"))) return dir;
  rmSync(dir, { recursive: true, force: true });
  for (const f of files) {
    const out = join(dir, relative(CORPUS_SRC, f));
    mkdirSync(dirname(out), { recursive: true });
    const text = readFileSync(f, "utf8");
    writeFileSync(out, f.endsWith(".go") ? SHIFT_HEADER + text : text);
  }
  writeFileSync(join(dir, ".complete"), "");
  return dir;
}

export interface CorpusBuild {
  go: string;
  race: boolean;
  shift: boolean;
}

/** Builds the corpus (cached by content + options); race builds have cgo on, others off. */
export async function buildCorpus(b: CorpusBuild): Promise<string> {
  const src = corpusSource(b.shift);
  const h = createHash("sha256");
  for (const f of walk(src)) if (!f.endsWith(".complete")) h.update(relative(src, f)).update(readFileSync(f));
  h.update(JSON.stringify(b));
  const out = join(CACHE, "go", `crash-corpus-go${b.go}-${h.digest("hex").slice(0, 16)}`);
  if (existsSync(out)) return out;
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await execFileP(goBin(b.go), ["build", "-o", tmp, ...(b.race ? ["-race"] : []), "."], {
    cwd: src,
    env: {
      ...process.env,
      GOTOOLCHAIN: "local",
      GOFLAGS: "-mod=mod",
      GOPROXY: "off",
      GOCACHE: join(CACHE, "gocache", b.go),
      GOPATH: join(CACHE, "gopath"),
      CGO_ENABLED: b.race ? "1" : "0",
    },
    maxBuffer: 16 * 1024 * 1024,
  });
  renameSync(tmp, out);
  return out;
}

export interface RunResult {
  stderr: string;
  stdout: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
}

/**
 * Runs one scenario. With `quitOnReady`, waits for "ready" on stdout and sends SIGQUIT (the
 * goroutine dump of a hung program).
 */
export function runScenario(
  bin: string,
  scenario: string,
  opts: { timeoutMs?: number; quitOnReady?: boolean } = {},
): Promise<RunResult> {
  const env = { ...process.env };
  delete env.GOTRACEBACK;
  delete env.GODEBUG;
  delete env.GORACE;
  return new Promise((resolve) => {
    const child = spawn(bin, [scenario], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let stdout = "";
    let timedOut = false;
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      if (stderr.length < 32 * 1024 * 1024) stderr += d;
    });
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      if (opts.quitOnReady && stdout.includes("ready\n")) child.kill("SIGQUIT");
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs ?? 20_000);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ stderr, stdout, code, signal, timedOut });
    });
  });
}

/** Runs tasks with at most `n` at a time. */
export async function pool<T, R>(items: T[], n: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}
