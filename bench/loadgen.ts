/**
 * The grpc-go load generator (bench/loadgen/main.go): built here with the newest Debian Go
 * toolchain, in GOPATH mode against the grpc-go sources Debian's golang-google-grpc-dev installs,
 * and run as a child process that prints one JSON result. Used by bench/rpc.ts; checked by
 * test/bench/loadgen.test.ts.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CACHE, goBuild, newestGo } from "../test/support/fixtures.js";

/** Where Debian's golang-google-grpc-dev puts grpc-go and its dependencies (GOPATH layout). */
const GOCODE = "/usr/share/gocode";

/**
 * Builds bench/loadgen (grpc-go) with the newest Debian Go toolchain in GOPATH mode against
 * Debian's grpc-go sources (cached like the test fixtures, by a hash of the sources); the
 * binary's path, or why it cannot be built here.
 */
export function buildLoadgen(): { path: string } | { skipped: string } {
  const go = newestGo();
  if (!go) return { skipped: "no Debian Go toolchain (scripts/install-system-deps.sh installs them)" };
  if (!existsSync(join(GOCODE, "src/google.golang.org/grpc")))
    return { skipped: "grpc-go sources missing (Debian package golang-google-grpc-dev)" };
  return {
    path: goBuild("loadgen", {
      go,
      dir: "bench/loadgen",
      env: { GO111MODULE: "off", GOPATH: `${join(CACHE, "gopath")}:${GOCODE}`, GOFLAGS: "" },
    }),
  };
}

export interface LoadgenResult {
  requests: number;
  addresses: number;
  errors: number;
  firstError?: string;
  /** Open loop: requests sent at the rate before the measured part, and failures among them. */
  rampRequests: number;
  rampErrors: number;
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
