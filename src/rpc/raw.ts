/**
 * A crash reporter's raw PCs → the crash model's goroutines, symbolized with the binary from the
 * cache (the same engine as Symbolize). Frames come out as the runtime's traceback prints them:
 * inlined frames expanded (innermost first), `panic` for runtime.gopanic, type arguments as
 * `[...]` (Go 1.21+), the physical frame carrying its PC and `+0x` offset.
 */
import { GosymdError, toGosymdError } from "../bytes/errors.js";
import type { CachedBinary } from "../cache/binary-cache.js";
import { goMinorOf, printName } from "../core/index.js";
import type { HeaderInfo } from "../crash/attribute.js";
import { packageOf } from "../crash/funcname.js";
import type { SignalInfo as EngineSignal, Goroutine, StackFrame } from "../crash/types.js";
import {
  CrashKind,
  CrashKindSchema,
  PcConvention,
  type RawCrash,
  type RawGoroutine,
  type SignalInfo,
} from "../gen/gosymd/v1/attribute_pb.js";
import type { Resolution } from "../symtab/types.js";

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Functions that are "called" by the runtime on a thread's behalf: their caller was interrupted at pc. */
const INJECTED = new Set(["runtime.sigpanic", "runtime.asyncPreempt", "runtime.debugCallV2"]);

export interface RawResult {
  goroutines: Goroutine[];
  header: HeaderInfo;
  /** PCs that could not be symbolized, for the response's diagnostics. */
  problems: string[];
  /** PCs looked up / resolved. */
  pcs: number;
  resolved: number;
}

function num(b: bigint): number {
  return b > MAX_SAFE ? Number.MAX_SAFE_INTEGER : Number(b);
}

function hex(b: bigint | number): string {
  return `0x${b.toString(16)}`;
}

function toEngineSignal(s: SignalInfo): EngineSignal {
  const out: EngineSignal = { name: s.name, description: s.description, duringCgo: s.duringCgo };
  if (s.code !== undefined) out.code = num(s.code < 0n ? 0n : s.code);
  if (s.addr !== undefined) out.addr = num(s.addr);
  if (s.pc !== undefined) out.pc = num(s.pc);
  if (s.m !== undefined && s.m >= 0n) out.m = num(s.m);
  return out;
}

function resolveSafe(entry: CachedBinary, pc: number): Resolution {
  try {
    return entry.bin.resolve(pc);
  } catch (e) {
    return { frames: [], reason: "corrupt_tables", detail: toGosymdError(e).message };
  }
}

const MAX_PROBLEMS = 100;

export function symbolizeRawCrash(raw: RawCrash, entry: CachedBinary): RawResult {
  const minor = goMinorOf(entry.bin.info.goVersion) ?? 22;
  const base = raw.loadBase;
  const conv =
    raw.pcConvention === PcConvention.UNSPECIFIED ? PcConvention.INNERMOST_EXACT : raw.pcConvention;
  if (!(conv in PcConvention)) {
    throw new GosymdError("invalid_argument", `unknown pc_convention ${raw.pcConvention}`, {
      field: "raw.pc_convention",
    });
  }
  const out: RawResult = { goroutines: [], header: {}, problems: [], pcs: 0, resolved: 0 };
  const problem = (msg: string) => {
    if (out.problems.length < MAX_PROBLEMS) out.problems.push(msg);
  };

  /** The link-time PC of a runtime PC, or a reason it has none. */
  const linkPc = (pc: bigint): number | string => {
    if (pc < base) return `pc ${hex(pc)} is below the load base ${hex(base)}`;
    const d = pc - base;
    if (d > MAX_SAFE) return `pc ${hex(pc)} minus the load base is beyond 2^53`;
    return Number(d);
  };

  const unknownFrame = (pc: bigint): StackFrame => ({
    function: "?",
    args: "",
    file: "",
    line: 0,
    inlined: false,
    packagePath: "",
    pc: num(pc),
  });

  const goroutine = (g: RawGoroutine): Goroutine => {
    const frames: StackFrame[] = [];
    let afterInjected = false;
    g.pcs.forEach((pc, i) => {
      out.pcs++;
      const rt = linkPc(pc);
      if (typeof rt === "string") {
        problem(`goroutine ${g.id} frame ${i}: ${rt}`);
        frames.push(unknownFrame(pc));
        afterInjected = false;
        return;
      }
      const exact =
        conv === PcConvention.EXACT ||
        (conv !== PcConvention.CALLERS && afterInjected) ||
        (conv === PcConvention.INNERMOST_EXACT && i === 0);
      // A return address is looked up at pc-1 unless it is its function's entry (a goroutine that
      // has not started yet), as the runtime's unwinder does (symPC).
      let lookup = rt;
      let res = resolveSafe(entry, rt);
      if (!exact && rt > 0) {
        const phys = res.frames[res.frames.length - 1];
        if (phys === undefined || rt > phys.entry) {
          lookup = rt - 1;
          res = resolveSafe(entry, lookup);
        }
      }
      let chain = res.frames;
      if (chain.length === 0) {
        problem(
          `goroutine ${g.id} frame ${i}: pc ${hex(pc)} (looked up at ${hex(lookup)}): ${res.reason ?? "no_symbol"}${res.detail ? ` (${res.detail})` : ""}`,
        );
        frames.push(unknownFrame(pc));
        afterInjected = false;
        return;
      }
      out.resolved++;
      // runtime.Callers writes one PC per logical frame: keep the innermost frame of each.
      if (conv === PcConvention.CALLERS) chain = chain.slice(0, 1);
      const n = chain.length;
      chain.forEach((fr, k) => {
        const physical = !fr.inlined && k === n - 1;
        const sf: StackFrame = {
          function: printName(fr.function, minor, !physical),
          args: physical ? "" : "...",
          file: fr.file,
          line: fr.line,
          inlined: !physical,
          packagePath: fr.packagePath !== "" ? fr.packagePath : packageOf(fr.function),
        };
        if (physical) {
          sf.pc = num(pc);
          if (rt > fr.entry) sf.offset = rt - fr.entry;
        }
        frames.push(sf);
      });
      const phys = res.frames[res.frames.length - 1]!;
      afterInjected = INJECTED.has(phys.function);
    });

    const state =
      g.state !== "" ? g.state : g.waitReason !== "" ? "waiting" : g.crashed ? "running" : "unknown";
    const og: Goroutine = {
      id: num(g.id),
      state,
      waitReason: g.waitReason,
      status: g.waitReason !== "" ? g.waitReason : state,
      waitMinutes: g.waitMinutes,
      lockedToThread: g.lockedToThread,
      crashed: g.crashed,
      frames,
      labels: g.labels.map((l) => ({ key: l.key, value: l.value })),
      flags: [],
      framesElided: 0,
      stackUnavailable: false,
      sourceLine: 0,
    };
    if (g.createdByPc !== 0n) {
      const cb = createdBy(g.createdByPc);
      if (cb) og.createdBy = cb;
      if (minor >= 21 && g.createdByGoroutine !== 0n) og.createdByGoroutine = num(g.createdByGoroutine);
    }
    return og;
  };

  /** `created by F`: the physical function at gopc-1 (the `go` statement's call), its innermost line. */
  const createdBy = (pc: bigint): StackFrame | undefined => {
    const rt = linkPc(pc);
    if (typeof rt === "string") {
      problem(`created-by ${rt}`);
      return undefined;
    }
    let res = resolveSafe(entry, rt);
    const phys0 = res.frames[res.frames.length - 1];
    if (rt > 0 && (phys0 === undefined || rt > phys0.entry)) res = resolveSafe(entry, rt - 1);
    const phys = res.frames[res.frames.length - 1];
    const inner = res.frames[0];
    if (phys === undefined || inner === undefined) {
      problem(`created-by pc ${hex(pc)}: ${res.reason ?? "no_symbol"}`);
      return undefined;
    }
    const sf: StackFrame = {
      function: printName(phys.function, minor, false),
      args: "",
      file: inner.file,
      line: inner.line,
      inlined: false,
      packagePath: phys.packagePath !== "" ? phys.packagePath : packageOf(phys.function),
      pc: num(pc),
    };
    if (rt > phys.entry) sf.offset = rt - phys.entry;
    return sf;
  };

  // The engine takes the first goroutine as the crashed one: put the one the client marked first.
  const gs = raw.goroutines.map(goroutine);
  const c = gs.findIndex((g) => g.crashed);
  if (c > 0) gs.unshift(...gs.splice(c, 1));
  out.goroutines = gs;

  const h: HeaderInfo = {
    panics: raw.panics.map((p) => ({ message: p.message, recovered: p.recovered, repanicked: p.repanicked })),
    fatalErrors: raw.fatalErrors,
    runtimeLines: raw.runtimeLines,
  };
  if (raw.kind !== CrashKind.UNSPECIFIED) {
    const name = CrashKindSchema.values.find((v) => v.number === raw.kind)?.name;
    if (name !== undefined) h.kind = name as NonNullable<HeaderInfo["kind"]>;
  }
  if (raw.signal) h.signal = toEngineSignal(raw.signal);
  out.header = h;
  return out;
}
