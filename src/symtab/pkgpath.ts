/**
 * Package and module attribution of Go symbol names.
 *
 * The import path of a function is the name up to the first '.' after the last '/' (the runtime's
 * `funcpkgpath`), computed on the name with its generic type arguments removed (they can hold
 * '/' and '.'), after dropping the compiler's generated prefixes (`type:.eq.` / `type..eq.`,
 * `type:.hash.` / `type..hash.`: attributed to the type's package). Dots in the last path element
 * are escaped as %2e in symbol names by older toolchains (objabi.PathToPrefix); the result is
 * unescaped. Where a newer toolchain writes the dot plainly (`gopkg.in/yaml.v3.(*T).M`), a module
 * path from buildinfo that extends the cut over such a dot wins.
 */
import type { BuildInfo, Module } from "../buildinfo/types.js";

const GENERATED_FOR_TYPE = ["type:.eq.", "type..eq.", "type:.hash.", "type..hash."];

function unescapePath(s: string): string {
  if (!s.includes("%")) return s;
  return s.replace(/%([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
}

/** Start of a plausible import path: a letter, digit, '_' or '~'. */
function startsLikePath(s: string): boolean {
  return isPathStart(s.charCodeAt(0));
}

function isPathStart(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x5f ||
    c === 0x7e
  );
}

/**
 * Import path of the package of a Go function name; "" for names that are not Go package
 * members (C symbols, `go:`/`go.` linker symbols). `isModule` lets a module path extend the cut
 * over a dot in the last element (see the file comment).
 */
export function packagePathOf(name: string, isModule?: (path: string) => boolean): string {
  let s = name;
  for (const p of GENERATED_FOR_TYPE) {
    if (s.startsWith(p)) {
      s = s.slice(p.length);
      break;
    }
  }
  if (s.length === 0 || !startsLikePath(s)) return "";
  if (s.startsWith("go:") || s.startsWith("type:")) return "";
  const bracket = s.indexOf("[");
  const cut = bracket >= 0 ? s.slice(0, bracket) : s;
  // Linker-generated "go.xxx" / "type.xxx" names have no '/'; real paths like go.uber.org/zap do.
  const slash = cut.lastIndexOf("/");
  if (slash < 0 && (cut.startsWith("go.") || cut.startsWith("type."))) return "";
  let dot = cut.indexOf(".", slash + 1);
  if (dot < 0) return "";
  if (isModule !== undefined) {
    // Extend over ".seg" while that names a module (gopkg.in/yaml.v3).
    for (let k = 0; k < 4; k++) {
      const next = cut.indexOf(".", dot + 1);
      if (next < 0) break;
      const seg = cut.slice(dot + 1, next);
      if (seg.length === 0 || seg.includes("(") || seg.includes("*")) break;
      const cand = unescapePath(cut.slice(0, next));
      if (!isModule(cand)) break;
      dot = next;
    }
  }
  return unescapePath(cut.slice(0, dot));
}

/**
 * `packagePathOf` for the names it can read straight off the name: every name but those whose
 * path has a '%' escape (undefined: ask `packagePathOf`). The caller still checks the result
 * against `ModuleIndex.dottedStems` (a module path may extend it over a dot). Index arithmetic
 * only, one slice: this runs once per distinct function name on a lookup's first sight of it.
 */
export function fastPackagePath(name: string): string | undefined {
  let s = 0;
  if (name.charCodeAt(0) === 0x74 /* t */) {
    for (const p of GENERATED_FOR_TYPE) {
      if (name.startsWith(p)) {
        s = p.length;
        break;
      }
    }
  }
  if (s >= name.length || !isPathStart(name.charCodeAt(s))) return "";
  if (name.startsWith("go:", s) || name.startsWith("type:", s)) return "";
  const bracket = name.indexOf("[", s);
  const lim = bracket >= 0 ? bracket : name.length;
  const slash = name.lastIndexOf("/", lim - 1);
  const sl = slash >= s && slash < lim ? slash : -1;
  // Linker-generated "go.xxx" / "type.xxx" names have no '/'; real paths like go.uber.org/zap do.
  if (sl < 0 && (name.startsWith("go.", s) || name.startsWith("type.", s))) return "";
  const dot = name.indexOf(".", sl < 0 ? s : sl + 1);
  if (dot < 0 || dot >= lim) return "";
  if (name.lastIndexOf("%", dot) >= s) return undefined;
  return name.slice(s, dot);
}

export interface ModuleRef {
  path: string;
  version: string;
}

/**
 * Longest-prefix module lookup over buildinfo's main module and deps. A replaced dependency
 * (`=>`) reports the replacement's version, or "(devel)" when it was replaced by a directory.
 * Package "main" belongs to the main module. Packages of the standard library (and the standard
 * library's own `vendor/…` copies) belong to no module.
 */
export class ModuleIndex {
  private readonly byPath = new Map<string, ModuleRef>();
  private readonly main: ModuleRef | undefined;
  /**
   * For module paths whose last element has a dot (gopkg.in/yaml.v3), the path up to that dot
   * (gopkg.in/yaml): a name whose plain package cut is one of these may belong to the module.
   */
  readonly dottedStems = new Set<string>();

  constructor(bi: BuildInfo | undefined) {
    if (bi === undefined) return;
    if (bi.main.path !== "") {
      this.main = { path: bi.main.path, version: bi.main.version || "(devel)" };
      this.byPath.set(bi.main.path, this.main);
    }
    for (const d of bi.deps) this.byPath.set(d.path, { path: d.path, version: depVersion(d) });
    for (const p of this.byPath.keys()) {
      const dot = p.indexOf(".", p.lastIndexOf("/") + 1);
      if (dot > 0) this.dottedStems.add(p.slice(0, dot));
    }
  }

  get size(): number {
    return this.byPath.size;
  }

  isModule = (p: string): boolean => this.byPath.has(p);

  lookup(pkg: string): ModuleRef | undefined {
    if (pkg === "") return undefined;
    if (pkg === "main" || pkg.startsWith("main.")) return this.main;
    if (pkg.startsWith("vendor/")) return undefined;
    const v = pkg.lastIndexOf("/vendor/");
    let p = v >= 0 ? pkg.slice(v + "/vendor/".length) : pkg;
    for (;;) {
      const m = this.byPath.get(p);
      if (m !== undefined) return m;
      const i = p.lastIndexOf("/");
      if (i <= 0) return undefined;
      p = p.slice(0, i);
    }
  }
}

function depVersion(d: Module): string {
  if (d.replace !== undefined) return d.replace.version !== "" ? d.replace.version : "(devel)";
  return d.version;
}
