/**
 * Running a fixture program that prints "ready" once it is set up: the core tests (which then
 * SIGQUIT it so it dumps core) and the goroutine-dump oracles (which SIGQUIT it for the dump), run
 * natively or under qemu-user.
 */
import { type ChildProcess, spawn } from "node:child_process";

export interface ReadyRun {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** "ready" was printed (and `onReady` called). */
  ready: boolean;
  /** Killed with SIGKILL after `timeoutMs`. */
  timedOut: boolean;
  /** Milliseconds from spawn to exit. */
  ms: number;
}

export interface ReadyRunOptions {
  env: Record<string, string>;
  cwd?: string;
  /** SIGKILL after this long. */
  timeoutMs: number;
  /**
   * Called once, when stdout first holds "ready\n" (typically sends SIGQUIT). If it throws, the
   * process is killed and the run rejects with that error.
   */
  onReady?: (child: ChildProcess) => void;
}

/** The PATH of this process, for a child run with a minimal environment. */
export const CHILD_PATH = process.env.PATH ?? "/usr/bin:/bin";

/** Runs `cmd args` with stdin closed, collecting stdout and stderr until it exits. */
export function runUntilReady(cmd: string, args: string[], opts: ReadyRunOptions): Promise<ReadyRun> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(cmd, args, {
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
      env: opts.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let ready = false;
    let timedOut = false;
    let failed: Error | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs);
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      if (!ready && stdout.includes("ready\n")) {
        ready = true;
        try {
          opts.onReady?.(child);
        } catch (e) {
          failed = e as Error;
          child.kill("SIGKILL");
        }
      }
    });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (failed) reject(failed);
      else resolve({ stdout, stderr, code, signal, ready, timedOut, ms: Date.now() - t0 });
    });
  });
}
