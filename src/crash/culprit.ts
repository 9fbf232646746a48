/**
 * Picking the frame to blame, deciding what is "in-app", and where its source lives.
 *
 * Rules (see pickCulprit): the crashed goroutine's innermost in-app frame, skipping the runtime,
 * `internal/...`, the standard library (inlined frames included), cgo-generated wrappers
 * (`_Cfunc_...`, `_cgo_gotypes.go`), compiler `go`/`defer` wrappers and the standard library's
 * recover wrappers. A re-panic is blamed on the frame that re-panicked (it is the innermost one).
 * A stack printed by `runtime/debug.Stack` inside a recover is blamed below its `panic` frame.
 * Deadlocks and dumps (no running goroutine) are blamed on the blocked site that explains the
 * state: the largest bucket of blocked goroutines with in-app frames. Thread exhaustion is blamed
 * on the largest bucket of goroutines holding threads (locked to thread, or in a syscall).
 */
import {
  isCgoGenerated,
  isCompilerWrapper,
  isRuntimePackage,
  isStdlibPackage,
  normalizeFunction,
} from "./funcname.js";
import type { Bucket, CrashCategory, Culprit, Goroutine, Module, ParsedCrash, StackFrame } from "./types.js";

export interface InAppOptions {
  /** Main module path (from the binary's buildinfo). */
  mainModule?: string;
  /** Extra package-path prefixes counted as in-app. */
  inAppPrefixes?: string[];
}

export interface CulpritOptions extends InAppOptions {
  /** VCS revision of the main module (buildinfo `vcs.revision`). */
  vcsRevision?: string;
  /** Modules of the binary (buildinfo deps), for module@version and source URLs of dependencies. */
  modules?: Module[];
}

function underPrefix(pkg: string, prefix: string): boolean {
  const p = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  return p !== "" && (pkg === p || pkg.startsWith(`${p}/`));
}

/** In-app: the main module or a configured prefix; without either, any non-standard-library package. */
export function isInApp(pkg: string, opts: InAppOptions): boolean {
  if (pkg === "") return false;
  if (pkg === "main" || pkg === "command-line-arguments") return true;
  const configured = opts.mainModule !== undefined || (opts.inAppPrefixes?.length ?? 0) > 0;
  if (configured) {
    if (pkg.includes("/vendor/")) return false;
    if (opts.mainModule !== undefined && underPrefix(pkg, opts.mainModule)) return true;
    return (opts.inAppPrefixes ?? []).some((p) => underPrefix(pkg, p));
  }
  return !isStdlibPackage(pkg) && !pkg.includes("/vendor/");
}

/** Recover wrappers of the standard library: their frames sit between a panic and its cause. */
const RECOVER_WRAPPERS = [
  /^net\/http\.\(\*conn\)\.serve\.func\d+$/,
  /^testing\.tRunner\.func\d+(?:\.\d+)*$/,
  /^net\/http\.\(\*http2serverConn\)\.runHandler\.func\d+$/,
];

/** Frames never blamed whatever the in-app settings say. */
export function isSkippable(f: StackFrame): boolean {
  if (f.function === "panic" || f.function === "" || f.function === "non-Go function") return true;
  if (isRuntimePackage(f.packagePath)) return true;
  if (isCgoGenerated(f.function, f.file)) return true;
  if (isCompilerWrapper(f.function)) return true;
  if (RECOVER_WRAPPERS.some((re) => re.test(f.function))) return true;
  return false;
}

export function isCandidate(f: StackFrame, opts: InAppOptions): boolean {
  return !isSkippable(f) && isInApp(f.packagePath, opts);
}

/**
 * Go ≤ 1.21 names the wrapper the compiler makes for `go f(args)` `<creator>.funcN` and places it
 * at the `go` statement's line, which is also the `created by` line (Go ≥ 1.22 calls it `.gowrapN`).
 */
export function isGoStatementWrapper(f: StackFrame, createdBy: StackFrame | undefined): boolean {
  return (
    createdBy !== undefined &&
    f.line > 0 &&
    f.line === createdBy.line &&
    f.file === createdBy.file &&
    f.function.startsWith(`${createdBy.function}.func`) &&
    /\.func\d+$/.test(f.function)
  );
}

/** Index of the frame to blame in `frames` (innermost first), with the tier that matched. */
export function blameIndex(
  frames: StackFrame[],
  opts: InAppOptions,
  start = 0,
  createdBy?: StackFrame,
): { index: number; tier: string } {
  const skip = (f: StackFrame) => isSkippable(f) || isGoStatementWrapper(f, createdBy);
  for (let i = start; i < frames.length; i++) {
    const f = frames[i]!;
    if (!skip(f) && isInApp(f.packagePath, opts)) return { index: i, tier: "in-app" };
  }
  for (let i = start; i < frames.length; i++) {
    const f = frames[i]!;
    if (!skip(f) && !isStdlibPackage(f.packagePath)) return { index: i, tier: "non-stdlib" };
  }
  for (let i = start; i < frames.length; i++) if (!skip(frames[i]!)) return { index: i, tier: "stdlib" };
  return { index: frames.length > start ? start : -1, tier: "innermost" };
}

const BLOCKING_WAIT =
  /^(?:chan receive|chan send|select|chan receive \(nil chan\)|chan send \(nil chan\)|select \(no cases\)|sync\.|semacquire|sync\.Cond\.Wait|sleep|IO wait|wait for GC cycle|synctest)/;

export interface CulpritChoice {
  goroutine?: Goroutine;
  frame?: StackFrame;
  frameIndex: number;
  /** The frames the culprit was chosen from (for the fingerprint). */
  frames: StackFrame[];
  createdBy?: StackFrame;
  reason: string;
  inApp: boolean;
}

/** Chooses the culprit frame of a crash. `buckets` must be the crash's buckets (largest first). */
export function pickCulprit(
  crash: ParsedCrash,
  category: CrashCategory,
  crashed: Goroutine | undefined,
  buckets: Bucket[],
  opts: InAppOptions,
): CulpritChoice {
  const none: CulpritChoice = {
    frameIndex: -1,
    frames: [],
    reason: "no goroutine stacks in the text",
    inApp: false,
  };
  const fromFrames = (
    g: Goroutine | undefined,
    frames: StackFrame[],
    createdBy: StackFrame | undefined,
    why: string,
    start = 0,
  ): CulpritChoice => {
    const { index, tier } = blameIndex(frames, opts, start, createdBy);
    if (index < 0) return { ...none, reason: `${why}; it has no frames` };
    const frame = frames[index]!;
    const c: CulpritChoice = {
      frame,
      frameIndex: index,
      frames,
      reason: `${why}: its innermost ${tier} frame`,
      inApp: isCandidate(frame, opts),
    };
    if (g !== undefined) c.goroutine = g;
    if (createdBy !== undefined) c.createdBy = createdBy;
    return c;
  };
  const fromBucket = (bk: Bucket, why: string): CulpritChoice => {
    const g = crash.goroutines.find((x) => x.id === bk.ids[0]);
    return fromFrames(g, bk.frames, bk.createdBy, why);
  };

  if (category === "CRASH_CATEGORY_DEADLOCK" || category === "CRASH_CATEGORY_GOROUTINE_DUMP") {
    const withApp = (b: Bucket) => b.frames.some((f) => isCandidate(f, opts));
    const blocked = buckets.filter((b) => b.state === "waiting" && BLOCKING_WAIT.test(b.waitReason));
    const pick =
      blocked.find(withApp) ??
      buckets.find((b) => withApp(b) && b.state !== "running") ??
      buckets.find(withApp) ??
      blocked[0] ??
      buckets[0];
    if (pick === undefined) return none;
    const what = pick.waitReason !== "" ? pick.waitReason : pick.state;
    return fromBucket(pick, `largest group of blocked goroutines (${pick.count} in ${what})`);
  }
  if (category === "CRASH_CATEGORY_THREAD_EXHAUSTION") {
    const holders = buckets.filter((b) => b.lockedToThread || b.state === "syscall");
    const pick = holders.find((b) => b.frames.some((f) => isCandidate(f, opts))) ?? holders[0];
    if (pick !== undefined)
      return fromBucket(pick, `largest group of goroutines holding OS threads (${pick.count})`);
  }
  if (category === "CRASH_CATEGORY_TEST_TIMEOUT") {
    for (const name of crash.header.runningTests) {
      const top = name.split("/", 1)[0]!;
      const re = new RegExp(`\\.${top.replace(/[^A-Za-z0-9_]/g, "")}(?:\\.|$)`);
      const g = crash.goroutines.find((x) => x.frames.some((f) => re.test(f.function)));
      if (g !== undefined)
        return fromFrames(g, g.frames, g.createdBy, `goroutine of the running test ${name}`);
    }
    const pick = buckets.find(
      (b) =>
        b.frames.some((f) => f.function === "testing.tRunner") && b.frames.some((f) => isCandidate(f, opts)),
    );
    if (pick !== undefined) return fromBucket(pick, "test goroutine still running at the timeout");
  }
  if (crashed === undefined) {
    const pick = buckets[0];
    return pick === undefined ? none : fromBucket(pick, "largest group of goroutines");
  }
  let start = 0;
  const frames = crashed.frames;
  // A stack printed from inside a recover (runtime/debug.Stack): blame below the panic.
  if (
    frames
      .slice(0, 3)
      .some((f) => f.function === "runtime/debug.Stack" || f.function === "runtime/debug.PrintStack")
  ) {
    const p = frames.findIndex((f) => f.function === "panic" || f.function === "runtime.gopanic");
    if (p >= 0) start = p + 1;
  }
  const why =
    category === "CRASH_CATEGORY_DATA_RACE"
      ? `first access of the race (goroutine ${crashed.id})`
      : `crashed goroutine ${crashed.id}`;
  if (frames.length === 0 && crash.header.runtimeStack.length > 0)
    return fromFrames(undefined, crash.header.runtimeStack, undefined, "runtime stack");
  return fromFrames(crashed, frames, crashed.createdBy, why, start);
}

/** `/root/go/pkg/mod/github.com/!foo/bar@v1.2.3/x.go` → module github.com/Foo/bar, v1.2.3. */
export function moduleFromFile(file: string): Module | undefined {
  const m = /\/pkg\/mod\/(.+?)@([^/]+)\//.exec(file);
  if (m === null) return undefined;
  const path = m[1]!.replace(/!([a-z])/g, (_s, c: string) => c.toUpperCase());
  return { path, version: m[2]!.replace(/!([a-z])/g, (_s, c: string) => c.toUpperCase()) };
}

function longestModule(pkg: string, modules: Module[]): Module | undefined {
  let best: Module | undefined;
  for (const m of modules)
    if (underPrefix(pkg, m.path) && (best === undefined || m.path.length > best.path.length)) best = m;
  return best;
}

/** Commit or tag a module version names: pseudo-versions carry a 12-hex commit prefix. */
export function revisionOfVersion(version: string, subdir: string): string | undefined {
  const v = version.replace(/\+incompatible$/, "");
  const pseudo = /-(?:\d+\.)?(?:0\.)?\d{14}-([0-9a-f]{12})$/.exec(v);
  if (pseudo) return pseudo[1];
  if (/^v\d+\.\d+\.\d+/.test(v)) return subdir === "" ? v : `${subdir}/${v}`;
  return undefined;
}

interface Forge {
  base: string;
  /** Path of the module inside the repository ("" at the root). */
  subdir: string;
  kind: "github" | "gitlab" | "bitbucket";
}

function forgeOf(modulePath: string): Forge | undefined {
  const m = /^(github\.com|gitlab\.com|bitbucket\.org)\/([^/]+)\/([^/]+)(?:\/(.*))?$/.exec(modulePath);
  if (m === null) return undefined;
  const kind = m[1] === "github.com" ? "github" : m[1] === "gitlab.com" ? "gitlab" : "bitbucket";
  let subdir = m[4] ?? "";
  // A major-version suffix is usually not a directory (major-branch convention).
  if (/^v\d+$/.test(subdir)) subdir = "";
  else subdir = subdir.replace(/\/v\d+$/, "");
  return { base: `https://${m[1]}/${m[2]}/${m[3]}`, subdir, kind };
}

function basename(p: string): string {
  const i = Math.max(p.lastIndexOf("/"), p.lastIndexOf("\\"));
  return i >= 0 ? p.slice(i + 1) : p;
}

function joinPath(...parts: string[]): string {
  return parts.filter((p) => p !== "").join("/");
}

/**
 * Directory of the main module on the build machine, inferred from frames of its non-main
 * packages (`<root>/<pkg subdir>/<file>`); lets `main` package files be placed in the repo too.
 */
export function inferModuleRoot(frames: Iterable<StackFrame>, modulePath: string): string | undefined {
  for (const f of frames) {
    if (f.file === "" || !underPrefix(f.packagePath, modulePath)) continue;
    const rel = f.packagePath.slice(modulePath.length).replace(/^\//, "");
    const dir = f.file.slice(0, Math.max(0, f.file.lastIndexOf("/")));
    if (rel === "") return dir;
    if (dir.endsWith(`/${rel}`)) return dir.slice(0, dir.length - rel.length - 1);
  }
  return undefined;
}

export interface SourceContext {
  mainModule?: string;
  vcsRevision?: string;
  modules: Module[];
  /** Main module root on the build machine (see inferModuleRoot). */
  moduleRoot?: string;
}

/** Module, version and source URL of a frame, as far as the options and the file path tell. */
export function locate(
  f: StackFrame,
  ctx: SourceContext,
): { modulePath?: string; moduleVersion?: string; sourceUrl?: string } {
  const out: { modulePath?: string; moduleVersion?: string; sourceUrl?: string } = {};
  let mod: Module | undefined;
  let revision: string | undefined;
  const pkg = f.packagePath;
  const inMain =
    ctx.mainModule !== undefined &&
    (pkg === "main" || underPrefix(pkg, ctx.mainModule) || f.file.startsWith(`${ctx.mainModule}/`));
  if (inMain && ctx.mainModule !== undefined) {
    mod = { path: ctx.mainModule, version: "" };
    revision = ctx.vcsRevision;
  } else {
    mod = longestModule(pkg, ctx.modules) ?? moduleFromFile(f.file);
  }
  if (mod === undefined) return out;
  out.modulePath = mod.path;
  if (mod.version !== "") out.moduleVersion = mod.version;
  const forge = forgeOf(mod.path);
  if (forge === undefined || f.line <= 0 || f.file === "") return out;
  if (revision === undefined && mod.version !== "") revision = revisionOfVersion(mod.version, forge.subdir);
  if (revision === undefined) return out;

  let inRepo: string | undefined;
  const trimmed = `${mod.path}/`;
  if (f.file.startsWith(trimmed)) inRepo = joinPath(forge.subdir, f.file.slice(trimmed.length));
  else {
    const versioned = `${mod.path}@${mod.version}/`;
    const at = f.file.indexOf(versioned);
    if (mod.version !== "" && at >= 0) inRepo = joinPath(forge.subdir, f.file.slice(at + versioned.length));
    else if (inMain && ctx.moduleRoot !== undefined && f.file.startsWith(`${ctx.moduleRoot}/`))
      inRepo = joinPath(forge.subdir, f.file.slice(ctx.moduleRoot.length + 1));
    else if (pkg !== "main" && underPrefix(pkg, mod.path))
      inRepo = joinPath(forge.subdir, pkg.slice(mod.path.length + 1), basename(f.file));
  }
  if (inRepo === undefined) return out;
  const path = inRepo.split("/").map(encodeURIComponent).join("/");
  const rev = encodeURIComponent(revision).replace(/%2F/g, "/");
  if (forge.kind === "github") out.sourceUrl = `${forge.base}/blob/${rev}/${path}#L${f.line}`;
  else if (forge.kind === "gitlab") out.sourceUrl = `${forge.base}/-/blob/${rev}/${path}#L${f.line}`;
  else out.sourceUrl = `${forge.base}/src/${rev}/${path}#lines-${f.line}`;
  return out;
}

/** Builds the Culprit record of a choice. */
export function culpritOf(choice: CulpritChoice, ctx: SourceContext, owners: string[]): Culprit | undefined {
  const f = choice.frame;
  if (f === undefined) return undefined;
  const c: Culprit = {
    function: f.function,
    file: f.file,
    line: f.line,
    packagePath: f.packagePath,
    inApp: choice.inApp,
    owners,
    goroutineId: choice.goroutine?.id ?? 0,
    frameIndex: choice.frameIndex,
    reason: choice.reason,
  };
  const loc = locate(f, ctx);
  if (loc.modulePath !== undefined) c.modulePath = loc.modulePath;
  if (loc.moduleVersion !== undefined) c.moduleVersion = loc.moduleVersion;
  if (loc.sourceUrl !== undefined) c.sourceUrl = loc.sourceUrl;
  return c;
}

export { normalizeFunction };
