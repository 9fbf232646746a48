/**
 * Core dumps made at test time: our fixture programs (test/fixtures/go/core-*) built with each
 * installed toolchain (as built, `-ldflags=-s -w`, and `objcopy --strip-all`), run with
 * GOTRACEBACK=crash and `ulimit -c unlimited` in a directory of their own (core_pattern is
 * "core"), so the same process prints every goroutine on stderr and then dumps core: the text is
 * the oracle for what we read from the core. Results are cached in .cache/fixtures/cores, keyed by
 * the binary's hash and the arguments.
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { buildProgram } from "../oracle/support.js";
import { CACHE } from "../support/fixtures.js";

export type Variant = "default" | "sw" | "objcopy" | "pie-sw";
export const VARIANTS: Variant[] = ["default", "sw", "objcopy", "pie-sw"];

/**
 * Builds a core fixture program in one variant: as built, `-ldflags=-s -w`, the default build
 * stripped with `objcopy --strip-all`, or a stripped PIE.
 */
export function buildVariant(prog: string, go: string, variant: Variant): string {
  if (variant === "sw") return buildProgram(prog, "sw", { go, flags: ["-ldflags=-s -w"] });
  if (variant === "pie-sw")
    return buildProgram(prog, "pie-sw", { go, flags: ["-buildmode=pie", "-ldflags=-s -w"] });
  const bin = buildProgram(prog, "default", { go });
  if (variant === "default") return bin;
  const out = `${bin}-objcopy-stripped`;
  if (!existsSync(out)) {
    const tmp = `${out}.tmp-${process.pid}`;
    execFileSync("objcopy", ["--strip-all", bin, tmp]);
    renameSync(tmp, out);
  }
  return out;
}

export interface CoreRun {
  /** The core file. */
  core: string;
  /** A copy of the binary that ran. */
  binary: string;
  stderr: string;
  stdout: string;
}

function fileHash(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex").slice(0, 16);
}

/**
 * Runs `binary args` with GOTRACEBACK=crash; with `quit`, waits for "ready" on stdout and sends
 * SIGQUIT. Returns the core and the text the process printed. Cached.
 */
export async function makeCore(binary: string, args: string[], mode: "crash" | "quit"): Promise<CoreRun> {
  const key = createHash("sha256")
    .update(fileHash(binary))
    .update(JSON.stringify({ args, mode, v: 1 }))
    .digest("hex")
    .slice(0, 16);
  const dir = join(CACHE, "cores", key);
  const done = join(dir, "done");
  if (existsSync(done)) {
    return {
      core: join(dir, "core"),
      binary: join(dir, "bin"),
      stderr: readFileSync(join(dir, "stderr.txt"), "utf8"),
      stdout: readFileSync(join(dir, "stdout.txt"), "utf8"),
    };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(binary, join(dir, "bin"));
  const { stdout, stderr } = await runToCore(join(dir, "bin"), args, mode, dir);
  const coreName = readdirSync(dir).find((f) => f === "core" || f.startsWith("core."));
  if (coreName === undefined) {
    throw new Error(
      `no core file written in ${dir} (core_pattern must be "core"); stderr: ${stderr.slice(0, 2000)}`,
    );
  }
  if (coreName !== "core") renameSync(join(dir, coreName), join(dir, "core"));
  writeFileSync(join(dir, "stderr.txt"), stderr);
  writeFileSync(join(dir, "stdout.txt"), stdout);
  writeFileSync(done, "");
  return { core: join(dir, "core"), binary: join(dir, "bin"), stderr, stdout };
}

function runToCore(
  bin: string,
  args: string[],
  mode: "crash" | "quit",
  cwd: string,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", 'ulimit -c unlimited; exec "$0" "$@"', bin, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", GOTRACEBACK: "crash" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let sent = false;
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      if (mode === "quit" && !sent && stdout.includes("ready\n")) {
        sent = true;
        // "ready" can reach us while main is still inside the write syscall that printed it; give
        // it time to park, or the dump (printed first) and the core (written after) disagree.
        setTimeout(() => child.kill("SIGQUIT"), 300);
      }
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (signal !== "SIGABRT" && code !== 134) {
        reject(
          new Error(`expected an abort with a core, got ${code ?? signal}; stderr: ${stderr.slice(0, 2000)}`),
        );
      } else resolve({ stdout, stderr });
    });
  });
}
