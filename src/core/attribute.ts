/**
 * Crash attribution from a core dump: `readCore` → the crash model → `attributeGoroutines`, the
 * same engine that attributes crash text. The goroutine list is ordered as the runtime prints a
 * crash: the crashed goroutine first; when the fatal signal hit a thread that was not running a
 * goroutine, that thread's system stack first as "goroutine 0" (the runtime's `[idle]` block);
 * then every goroutine by id, then the other threads' system stacks.
 */
import type { ByteSource } from "../bytes/source.js";
import { FileSource } from "../bytes/source.js";
import { type AttributeOptions, attributeGoroutines } from "../crash/attribute.js";
import { packageOf } from "../crash/funcname.js";
import type { AttributeResult, Goroutine, StackFrame } from "../crash/types.js";
import type { GoBinary } from "../symtab/api.js";
import { goMinorOf } from "./layout.js";
import {
  type CoreFrame,
  type CoreResult,
  type CoreThreadInfo,
  printName,
  type ReadCoreOptions,
  readCore,
  toCrashGoroutines,
} from "./read.js";

export interface AttributeCoreOptions extends AttributeOptions {
  /** Options of the core reader. */
  core?: ReadCoreOptions;
  /** Take mainModule / modules / vcsRevision from the binary's buildinfo when not given (default true). */
  useBuildInfo?: boolean;
}

/**
 * The attribution in the same shape as `attributeText`'s result (one crash, primaryIndex 0; the
 * reader's warnings as diagnostics), plus what the core reader found.
 */
export interface CoreAttribution extends AttributeResult {
  /**
   * Threads, goroutines with raw PCs, warnings and stats of the core reader. Not enumerable, so
   * JSON output has exactly the shape of `attributeText`'s result.
   */
  readonly core: CoreResult;
}

function threadFrames(frames: CoreFrame[], minor: number): StackFrame[] {
  const out: StackFrame[] = [];
  for (const cf of frames) {
    const n = cf.frames.length;
    cf.frames.forEach((fr, k) => {
      const physical = k === n - 1;
      const sf: StackFrame = {
        function: printName(fr.function, minor, !physical),
        args: physical ? "" : "...",
        file: fr.file,
        line: fr.line,
        inlined: !physical,
        packagePath: fr.packagePath !== "" ? fr.packagePath : packageOf(fr.function),
      };
      if (physical) {
        sf.pc = cf.pc;
        if (cf.pc > cf.entry) sf.offset = cf.pc - cf.entry;
      }
      out.push(sf);
    });
  }
  return out;
}

/** A thread's system stack as the runtime prints it: `goroutine 0 [idle]` from the interrupted context. */
function g0Goroutine(t: CoreThreadInfo, minor: number): Goroutine {
  const g: Goroutine = {
    id: 0,
    state: "idle",
    waitReason: "",
    status: "idle",
    waitMinutes: 0,
    lockedToThread: false,
    crashed: false,
    frames: threadFrames(t.signals.length > 0 ? t.interrupted : t.frames, minor),
    labels: [],
    flags: [],
    framesElided: 0,
    stackUnavailable: false,
    sourceLine: 0,
  };
  if (t.m !== undefined && t.m.id >= 0) g.m = t.m.id;
  return g;
}

/** The goroutines of a core result in print order (see the file comment). */
export function coreGoroutines(r: CoreResult): Goroutine[] {
  const minor = goMinorOf(r.goVersion) ?? Number(r.layout.version.split(".")[1]);
  const gs = toCrashGoroutines(r);
  const idle = r.threads.filter(
    (t) => t.on !== "goroutine" && (t.signals.length > 0 ? t.interrupted : t.frames).length > 0,
  );
  const crashThread = r.threads[0];
  const out: Goroutine[] = [];
  if (r.crashedGoroutine === undefined && crashThread !== undefined && idle.includes(crashThread)) {
    out.push(g0Goroutine(crashThread, minor));
  }
  out.push(...gs);
  for (const t of idle)
    if (t !== crashThread || r.crashedGoroutine !== undefined) out.push(g0Goroutine(t, minor));
  return out;
}

function withBuildInfo(
  binaryInfo: GoBinary["info"] | undefined,
  opts: AttributeCoreOptions,
): AttributeOptions {
  const o: AttributeOptions = { ...opts };
  const bi = binaryInfo?.buildInfo;
  if (opts.useBuildInfo === false || bi === undefined) return o;
  if (o.mainModule === undefined && bi.main.path !== "") o.mainModule = bi.main.path;
  if (o.modules === undefined && bi.deps.length > 0)
    o.modules = bi.deps.map((d) => ({ path: d.path, version: d.version }));
  const rev = bi.settings.find((s) => s.key === "vcs.revision")?.value;
  if (o.vcsRevision === undefined && rev !== undefined && rev !== "") o.vcsRevision = rev;
  return o;
}

/** Reads a core and attributes its crash. `binary` may be given decoded (opts.core.binary). */
export function attributeCoreSource(
  core: ByteSource,
  exe: ByteSource,
  opts: AttributeCoreOptions = {},
): CoreAttribution {
  const r = readCore(core, exe, opts.core ?? {});
  const info = opts.core?.binary?.info;
  const a = attributeGoroutines(coreGoroutines(r), r.header, withBuildInfo(info ?? r.binaryInfo, opts));
  a.truncated = a.truncated || r.partial;
  const out = {
    ...a,
    primaryIndex: 0,
    crashes: [a],
    diagnostics: r.warnings.map((w) => ({ line: 0, reason: w, excerpt: "" })),
    diagnosticsDropped: 0,
    stats: {
      inputBytes: core.size,
      lines: 0,
      inputTruncated: r.partial,
      longLines: 0,
      prefixesStripped: 0,
      unescapedLines: 0,
    },
  } as CoreAttribution;
  // Not enumerable: JSON output keeps the shape of attributeText's result.
  Object.defineProperty(out, "core", { value: r, enumerable: false });
  return out;
}

/** `gosymd attribute --core CORE --binary BIN`: reads both files on demand (never whole). */
export function attributeCore(
  corePath: string,
  binaryPath: string,
  opts: AttributeCoreOptions = {},
): CoreAttribution {
  const core = new FileSource(corePath);
  try {
    const exe = new FileSource(binaryPath);
    try {
      return attributeCoreSource(core, exe, opts);
    } finally {
      exe.close();
    }
  } finally {
    core.close();
  }
}
