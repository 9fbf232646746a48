/**
 * The grpc-go load generator (bench/loadgen/main.go): built here with the newest Debian Go
 * toolchain, in GOPATH mode against the grpc-go sources Debian's golang-google-grpc-dev installs,
 * and run as a child process that prints one JSON result. Used by bench/rpc.ts; checked by
 * test/bench/loadgen.test.ts.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { goBin, newestGo, ROOT } from "../test/support/fixtures.js";

/** Where Debian's golang-google-grpc-dev puts grpc-go and its dependencies (GOPATH layout). */
const GOCODE = "/usr/share/gocode";

/**
 * Builds bench/loadgen (grpc-go) with the newest Debian Go toolchain in GOPATH mode against
 * Debian's grpc-go sources; the binary's path, or why it cannot be built here.
 */
export function buildLoadgen(): { path: string } | { skipped: string } {
  const go = newestGo();
  if (!go) return { skipped: "no Debian Go toolchain (scripts/install-system-deps.sh installs them)" };
  if (!existsSync(join(GOCODE, "src/google.golang.org/grpc")))
    return { skipped: "grpc-go sources missing (Debian package golang-google-grpc-dev)" };
  const dir = join(ROOT, ".cache/fixtures/bench");
  mkdirSync(dir, { recursive: true });
  const out = join(dir, "loadgen");
  const src = join(ROOT, "bench/loadgen/main.go");
  if (existsSync(out) && statSync(out).mtimeMs > statSync(src).mtimeMs) return { path: out };
  execFileSync(goBin(go), ["build", "-o", out, "."], {
    cwd: join(ROOT, "bench/loadgen"),
    env: {
      ...process.env,
      GO111MODULE: "off",
      GOPATH: `${join(dir, "gopath")}:${GOCODE}`,
      GOCACHE: join(dir, "gocache"),
      GOFLAGS: "",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  return { path: out };
}

export interface LoadgenResult {
  requests: number;
  addresses: number;
  errors: number;
  firstError?: string;
  seconds: number;
  cpuSeconds: number;
  latenciesMs: number[];
  lateSendP99Ms: number;
  lateSendMaxMs: number;
}

/** Runs the load generator (on one core's worth of Go scheduler: GOMAXPROCS=1). */
export function runLoadgen(bin: string, target: string, buildId: string, pcsFile: string, args: string[]) {
  return new Promise<LoadgenResult>((resolve, reject) => {
    const p = spawn(bin, ["-target", target, "-build-id", buildId, "-pcs", pcsFile, ...args], {
      env: { ...process.env, GOMAXPROCS: "1" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    p.stdout.on("data", (d) => {
      out += String(d);
    });
    p.once("error", reject);
    p.once("exit", (code) => {
      if (code !== 0) reject(new Error(`loadgen exited with ${code}`));
      else resolve(JSON.parse(out) as LoadgenResult);
    });
  });
}
