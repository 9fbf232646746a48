/**
 * Facts about Go function names as tracebacks print them:
 * `example.com/m/pkg.(*T).Method`, `main.main.func1.2`, `pkg.Map[...]`, `gopkg.in/yaml%2ev3.F`.
 */

/**
 * Import path of the package a printed function belongs to: up to the last `/`, then up to the
 * first `.` after it (the linker escapes dots of the last path element as `%2e`, so that dot is
 * the package/function separator). `%2e` is unescaped. "" for names without a package (C code).
 */
const pkgCache = new Map<string, string>();

export function packageOf(fn: string): string {
  const hit = pkgCache.get(fn);
  if (hit !== undefined) return hit;
  const p = computePackage(fn);
  if (pkgCache.size > 100_000) pkgCache.clear();
  pkgCache.set(fn, p);
  return p;
}

function computePackage(fn: string): string {
  if (fn === "panic" || fn === "" || fn.startsWith("non-Go function")) return fn === "panic" ? "runtime" : "";
  // Type arguments may contain slashes and dots: cut them off first.
  const bracket = fn.indexOf("[");
  const base = bracket >= 0 ? fn.slice(0, bracket) : fn;
  const slash = base.lastIndexOf("/");
  const dot = base.indexOf(".", slash + 1);
  if (dot < 0) return "";
  return base.slice(0, dot).replace(/%2e/gi, ".");
}

/** Standard library: first path element has no dot (`net/http`), not `main`; GOROOT vendor too. */
export function isStdlibPackage(pkg: string): boolean {
  if (pkg === "" || pkg === "main" || pkg === "command-line-arguments") return false;
  if (pkg.startsWith("vendor/")) return true;
  const first = pkg.split("/", 1)[0]!;
  return !first.includes(".");
}

/** Runtime-internal packages whose frames never explain a crash. */
export function isRuntimePackage(pkg: string): boolean {
  return (
    pkg === "runtime" ||
    pkg.startsWith("runtime/") ||
    pkg === "internal" ||
    pkg.startsWith("internal/") ||
    pkg === "sync/atomic"
  );
}

/** cgo-generated code: `_Cfunc_x`, `_cgo_...`, `_cgoexp_...`, files `_cgo_gotypes.go`, `cgo`-prefixed callbacks. */
export function isCgoGenerated(fn: string, file: string): boolean {
  const name = fn.slice(fn.lastIndexOf(".") + 1);
  return (
    name.startsWith("_Cfunc_") ||
    name.startsWith("_Cmacro_") ||
    name.startsWith("_cgo_") ||
    name.startsWith("_cgoexp_") ||
    name.startsWith("_Cgo_") ||
    file.endsWith("_cgo_gotypes.go") ||
    /(^|\/)_cgo_[^/]*$/.test(file) ||
    file.endsWith(".cgo1.go") === true
  );
}

/** `go` statement and `defer` wrappers the compiler generates (`.gowrap1`, `.deferwrap2`). */
export function isCompilerWrapper(fn: string): boolean {
  return /\.(gowrap|deferwrap)\d+$/.test(fn);
}

/**
 * The function name with everything that changes across Go versions and unrelated edits removed:
 * type arguments (`[...]`, `[go.shape.int]`) dropped; closure, wrapper and range-func numbers
 * dropped (`.func3.1` → `.func.func`, `-range2` → `-range`); `glob..funcN` (Go ≤ 1.20 name of
 * package-level closures) spelled like Go ≥ 1.21 (`init.func`); `%2e` unescaped.
 */
export function normalizeFunction(fn: string): string {
  let s = stripTypeArgs(fn).replace(/%2e/gi, ".");
  s = s.replace(/\.glob\.\.func/g, ".init.func");
  // Closures: funcN, nested closures funcN.M (the .M part is a bare number).
  s = s.replace(
    /\.func\d+((?:\.\d+)*)/g,
    (_m, nested: string) => `.func${nested.replace(/\.\d+/g, ".func")}`,
  );
  s = s.replace(/\.(gowrap|deferwrap)\d+/g, ".$1");
  s = s.replace(/-range\d+/g, "-range");
  return s;
}

/** Removes every bracketed type-argument list, nesting included. */
export function stripTypeArgs(fn: string): string {
  if (!fn.includes("[")) return fn;
  let out = "";
  let depth = 0;
  for (let i = 0; i < fn.length; i++) {
    const c = fn[i]!;
    if (c === "[") depth++;
    else if (c === "]") depth = Math.max(0, depth - 1);
    else if (depth === 0) out += c;
  }
  return out;
}
