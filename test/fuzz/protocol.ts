/** Messages and shared control words between the fuzzer's main thread (runner.ts) and its worker. */

export interface WorkerInit {
  target: string;
  mode: "fuzz" | "exec";
  seed: number;
  /** How long to fuzz once the seeds are set up (ms). */
  fuzzMs: number;
  maxCases: number;
  quick: boolean;
  coverage: boolean;
  /** Control words shared with the watchdog (see CTL_*). */
  ctl: SharedArrayBuffer;
  /** Heap growth in one case that counts as a finding (bytes). */
  memoryLimit: number;
}

/** Int32 words of the control block. */
export const CTL_STATE = 0;
export const CTL_LEN = 1;
export const CTL_CONTEXT = 2;
/** Float64 word (at byte 16): Date.now() when the running case started. */
export const CTL_START_F64 = 2;
export const STATE_SETUP = 0;
export const STATE_IDLE = 1;
export const STATE_RUNNING = 2;

export interface FindingMessage {
  kind: "exception" | "violation" | "slow" | "memory" | "hang" | "oom" | "crash";
  signature: string;
  message: string;
  stack: string;
  context: string;
  bytes: Uint8Array;
  ms: number;
}

export interface WorkerStats {
  cases: number;
  fuzzMs: number;
  runMs: number;
  coverageMs: number;
  corpus: number;
  features: number;
  findings: number;
  duplicateFindings: number;
  outcomes: Record<string, number>;
  /** The slowest case (mutated inputs only): its time and outcome. */
  slowestMs: number;
  slowestTag: string;
}

export type FromWorker =
  | { type: "ready"; input: SharedArrayBuffer; contexts: string[]; seeds: number; setupMs: number }
  | { type: "finding"; finding: FindingMessage }
  | { type: "progress"; stats: WorkerStats }
  | { type: "done"; stats: WorkerStats; slowest?: { bytes: Uint8Array; context: string } }
  | { type: "result"; id: number; tag: string; finding?: FindingMessage };

export type ToWorker = { type: "exec"; id: number; bytes: Uint8Array; context: number } | { type: "stop" };
