/**
 * openBinary / resolve beyond the pclntab oracle: package and module attribution (vs debug/gosym's
 * Sym.PackageName and `go version -m`), the container-symbol fallback and the per-address reasons
 * (a cgo binary checked against binutils' nm), and BinaryInfo (vs readelf, go tool nm, go version).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { FileSource } from "../../src/bytes/source.js";
import { locatePclntab } from "../../src/gopclntab/locate.js";
import { openObject } from "../../src/object/open.js";
import { openBinaryFile, pclnTableOf } from "../../src/symtab/binary.js";
import { fastPackagePath, ModuleIndex, packagePathOf } from "../../src/symtab/pkgpath.js";
import { goBin, goBuild, newestGo, npmFixture } from "../support/fixtures.js";
import { samplePcs } from "../support/sample.js";

const go = newestGo();
const goTool = goBin(go ?? "");

/** Modules from `go version -m` (path → version, the replacement's version when replaced). */
function goVersionModules(path: string): Map<string, string> {
  const out = execFileSync(goTool, ["version", "-m", path], { encoding: "utf8" });
  const mods = new Map<string, string>();
  let last: string | undefined;
  for (const line of out.split("\n")) {
    const f = line.trim().split("\t");
    if (f[0] === "mod" || f[0] === "dep") {
      last = f[1]!;
      mods.set(last, f[2] ?? "");
    } else if (f[0] === "=>" && last !== undefined) {
      mods.set(last, f[2] !== undefined && f[2] !== "" ? f[2] : "(devel)");
    }
  }
  return mods;
}

function unescapePct(p: string): string {
  return p.replace(/%([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
}

describe("package and module attribution", { skip: go === undefined && "no Go toolchain" }, () => {
  for (const name of ["buf-1.75.0-linux-amd64", "esbuild-0.25.0-linux-amd64", "esbuild-0.5.26-linux-amd64"]) {
    test(`${name}: package paths agree with debug/gosym Sym.PackageName`, () => {
      const path = npmFixture(name);
      const b = openBinaryFile(path);
      const p = b.info.pclntab!;
      const exe = goBuild("gosym-oracle", { go: go! });
      const out = execFileSync(
        exe,
        [path, p.addr.toString(16), p.size.toString(16), p.textStart.toString(16), "pkgs"],
        { encoding: "utf8", maxBuffer: 1 << 28 },
      );
      const mods = new ModuleIndex(b.info.buildInfo);
      let compared = 0;
      const bad: string[] = [];
      // Function names, in table order: ours (resolve's physical frame at each entry) vs gosym's,
      // non-ASCII ones ('·' in generated names) included.
      const t = pclnTableOf(b)!;
      const theirNames = out
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => l.split("\t")[0]!);
      assert.equal(theirNames.length, t.nfunc);
      let nonAscii = 0;
      for (let i = 0; i < t.nfunc; i++) {
        const ours = b.resolve(t.entry(i)).frames.at(-1)?.function;
        if (ours !== theirNames[i]) bad.push(`function ${i}: ours ${ours}, gosym ${theirNames[i]}`);
        if (/[^\x00-\x7f]/.test(theirNames[i]!)) nonAscii++;
      }
      if (name.startsWith("buf")) assert.ok(nonAscii > 0, "buf has names with '·'");
      for (const line of out.split("\n")) {
        if (line === "") continue;
        const [fn, theirs] = line.split("\t") as [string, string];
        // Deliberate differences: generated type:/go: names are attributed to the type's package
        // (gosym: none), and gosym does not unescape %2e or know module paths with dots.
        if (/^(type[:.]|go[:.])/.test(fn)) continue;
        const ours = packagePathOf(fn, mods.isModule);
        const want = unescapePct(theirs);
        if (ours === want) compared++;
        else if (!(ours.startsWith(`${want}.`) && mods.isModule(ours)))
          bad.push(`${fn}: ours ${ours}, gosym ${want}`);
      }
      assert.deepEqual(bad.slice(0, 10), [], `${bad.length} differ`);
      assert.ok(compared > 1000, `compared ${compared}`);
    });
  }

  test("generated and unusual names", () => {
    const mods = new ModuleIndex({
      goVersion: "go1.23.0",
      path: "example.com/app/cmd/app",
      main: { path: "example.com/app", version: "(devel)", sum: "" },
      deps: [
        { path: "gopkg.in/yaml.v3", version: "v3.0.1", sum: "" },
        { path: "go.uber.org/zap", version: "v1.27.0", sum: "" },
        {
          path: "github.com/x/y",
          version: "v1.0.0",
          sum: "",
          replace: { path: "github.com/fork/y", version: "v1.0.1-fork", sum: "" },
        },
        {
          path: "github.com/x/local",
          version: "v0.1.0",
          sum: "",
          replace: { path: "../local", version: "", sum: "" },
        },
      ],
      settings: [],
    });
    const cases: Array<[string, string, string, string]> = [
      ["main.main", "main", "example.com/app", "(devel)"],
      ["main.(*T).M.func1", "main", "example.com/app", "(devel)"],
      ["example.com/app/internal/db.Open", "example.com/app/internal/db", "example.com/app", "(devel)"],
      ["gopkg.in/yaml%2ev3.(*decoder).unmarshal", "gopkg.in/yaml.v3", "gopkg.in/yaml.v3", "v3.0.1"],
      ["gopkg.in/yaml.v3.(*decoder).unmarshal", "gopkg.in/yaml.v3", "gopkg.in/yaml.v3", "v3.0.1"],
      ["go.uber.org/zap.(*Logger).Sugar", "go.uber.org/zap", "go.uber.org/zap", "v1.27.0"],
      ["github.com/x/y/sub.F[...]", "github.com/x/y/sub", "github.com/x/y", "v1.0.1-fork"],
      [
        "github.com/x/y.Map[go.shape.struct { a github.com/z/w.T }].func1",
        "github.com/x/y",
        "github.com/x/y",
        "v1.0.1-fork",
      ],
      ["github.com/x/local.F", "github.com/x/local", "github.com/x/local", "(devel)"],
      ["type:.eq.github.com/x/y.T", "github.com/x/y", "github.com/x/y", "v1.0.1-fork"],
      ["type..eq.[2]interface {}", "", "", ""],
      ["type:.hash.main.key", "main", "example.com/app", "(devel)"],
      ["go:buildid", "", "", ""],
      ["go.buildid", "", "", ""],
      ["runtime.gopanic", "runtime", "", ""],
      ["vendor/golang.org/x/net/http2/hpack.(*Decoder).Write", "vendor/golang.org/x/net/http2/hpack", "", ""],
      ["gosymd_c_add", "", "", ""],
      ["_cgo_topofstack", "", "", ""],
    ];
    for (const [fn, pkg, mod, ver] of cases) {
      const p = packagePathOf(fn, mods.isModule);
      assert.equal(p, pkg, fn);
      const m = mods.lookup(p);
      assert.equal(m?.path ?? "", mod, `${fn} module`);
      assert.equal(m?.version ?? "", ver, `${fn} version`);
    }
  });

  test("the lookup fast path (fastPackagePath) agrees with packagePathOf on every name", () => {
    const mods = new ModuleIndex({
      goVersion: "go1.23.0",
      path: "example.com/app/cmd/app",
      main: { path: "example.com/app", version: "(devel)", sum: "" },
      deps: [{ path: "gopkg.in/yaml.v3", version: "v3.0.1", sum: "" }],
      settings: [],
    });
    const fast = (n: string, m: ModuleIndex): string | undefined => {
      const p = fastPackagePath(n);
      return p === undefined || m.dottedStems.has(p) ? undefined : p;
    };
    const odd = [
      "gopkg.in/yaml%2ev3.(*decoder).unmarshal",
      "gopkg.in/yaml.v3.(*decoder).unmarshal",
      "github.com/x/y.Map[go.shape.struct { a github.com/z/w.T }].func1",
      "github.com/x/y/sub.F[...]",
      "type:.eq.github.com/x/y.T",
      "type..eq.[2]interface {}",
      "go:buildid",
      "go.buildid",
      "go/ast.Walk",
      "golang.org/x/net/http2.(*Framer).ReadFrame",
      "time.Now",
      "typeutil.F",
      "type:.eq.go.uber.org/zap.Field",
      "type:.hash.main.key",
      "type:.eq.[2]interface {}",
      "type:*main.T",
      "type..eq.main.T",
      "go.uber.org/zap.(*Logger).Info",
      "go.uber.org/zap%2ev1.F",
      "go.shape.int",
      "type.int",
      "main.main",
      "cmpbody",
      "x/y.z/w.F",
      "a.b/c",
      "a[b/c.d].e",
      "x.y[",
      "_cgo_topofstack",
      "",
      "[",
      "%",
      ".",
      "/",
    ];
    let fastHits = 0;
    for (const n of odd) {
      const f = fast(n, mods);
      if (f !== undefined) {
        fastHits++;
        assert.equal(f, packagePathOf(n, mods.isModule), n);
      }
    }
    assert.ok(fastHits > 20);
    for (const name of ["buf-1.75.0-linux-amd64", "esbuild-0.5.26-linux-amd64"]) {
      const b = openBinaryFile(npmFixture(name));
      const t = pclnTableOf(b)!;
      const m = new ModuleIndex(b.info.buildInfo);
      let checked = 0;
      for (let i = 0; i < t.nfunc; i++) {
        const n = t.funcName(i);
        const f = fast(n, m);
        if (f === undefined) continue;
        checked++;
        if (f !== packagePathOf(n, m.isModule))
          assert.fail(`${name}: ${n}: ${f} vs ${packagePathOf(n, m.isModule)}`);
        const r = b.resolve(t.entry(i)).frames.at(-1)!;
        if (r.packagePath !== f) assert.fail(`${name}: ${n}: resolve says ${r.packagePath}, want ${f}`);
      }
      assert.ok(checked > t.nfunc * 0.99, `${name}: fast path for ${checked} of ${t.nfunc}`);
    }
  });

  test("buf: every frame's module is the longest `go version -m` module containing its package", () => {
    const path = npmFixture("buf-1.75.0-linux-amd64");
    const b = openBinaryFile(path);
    const t = pclnTableOf(b)!;
    const mods = goVersionModules(path);
    const mainMod = b.info.buildInfo?.main.path ?? "";
    assert.ok(mods.size > 50, "buf has many modules");
    const bad: string[] = [];
    let attributed = 0;
    for (let i = 0; i < t.nfunc; i++) {
      for (const f of b.resolve(t.entry(i)).frames) {
        const pkg = f.packagePath;
        let want = "";
        if (pkg === "main") want = mainMod;
        else if (!pkg.startsWith("vendor/"))
          for (const m of mods.keys())
            if ((pkg === m || pkg.startsWith(`${m}/`)) && m.length > want.length) want = m;
        if (f.modulePath !== want) bad.push(`${f.function}: ${f.modulePath} vs ${want}`);
        else if (want !== "") {
          attributed++;
          const v = want === mainMod ? mods.get(want) || "(devel)" : mods.get(want);
          if (f.moduleVersion !== v) bad.push(`${f.function}: version ${f.moduleVersion} vs ${v}`);
        }
      }
    }
    assert.deepEqual(bad.slice(0, 10), [], `${bad.length} frames misattributed`);
    assert.ok(attributed > 10000, `attributed ${attributed}`);
  });
});

describe("symbol fallback, reasons and info", { skip: go === undefined && "no Go toolchain" }, () => {
  test("cgo binary: C functions from the ELF symbol table, Go from the pclntab, text start from moduledata", () => {
    const exe = goBuild("cgo-symbols", { go: go!, env: { CGO_ENABLED: "1" } });
    const b = openBinaryFile(exe);
    const nm = execFileSync("nm", ["-S", "--defined-only", exe], { encoding: "utf8" });
    const sym = (n: string) => {
      const m = new RegExp(`^([0-9a-f]+) ([0-9a-f]+ )?[Tt] ${n.replace(/\./g, "\\.")}$`, "m").exec(nm);
      assert.ok(m, `nm lists ${n}`);
      return { addr: Number.parseInt(m[1]!, 16), size: m[2] ? Number.parseInt(m[2], 16) : 0 };
    };
    const c = sym("gosymd_c_add");
    assert.ok(c.size > 0, "nm gives the C function a size");
    for (const pc of [c.addr, c.addr + 1, c.addr + c.size - 1]) {
      const r = b.resolve(pc);
      assert.equal(r.frames.length, 1, `0x${pc.toString(16)}: ${r.reason}`);
      const f = r.frames[0]!;
      assert.equal(f.function, "gosymd_c_add");
      assert.equal(f.source, "symtab");
      assert.equal(f.entry, c.addr);
      assert.equal(f.packagePath, "");
      assert.equal(f.line, 0);
    }
    const start = sym("_start");
    assert.equal(b.resolve(start.addr).frames[0]?.function, "_start");
    // Go code of the same binary comes from the pclntab; external linking put C code before it.
    const main = sym("main.main");
    const r = b.resolve(main.addr);
    assert.equal(r.frames.at(-1)?.function, "main.main");
    assert.equal(r.frames.at(-1)?.source, "pclntab");
    const text = sym("runtime.text");
    assert.equal(b.info.pclntab?.textStart, text.addr);
    assert.ok(text.addr > start.addr, "C start-up code precedes runtime.text");
  });

  test("lazySymbols: the same answers, symbol count and info as reading symbols at open; the CLI's text output names C functions", () => {
    const exe = goBuild("cgo-symbols", { go: go!, env: { CGO_ENABLED: "1" } });
    const nm = execFileSync("nm", ["-S", "--defined-only", exe], { encoding: "utf8" });
    const pcs: number[] = [];
    for (const m of nm.matchAll(/^([0-9a-f]+) [0-9a-f]+ [Tt] (\S+)$/gm))
      pcs.push(Number.parseInt(m[1]!, 16) + 1);
    assert.ok(pcs.length > 1000, `nm lists ${pcs.length} sized text symbols`);
    const eager = openBinaryFile(exe);
    const lazy = openBinaryFile(exe, { lazySymbols: true });
    try {
      // Info without touching the symbols first: everything but the count is there at once.
      assert.deepEqual(JSON.parse(JSON.stringify(lazy.info)), JSON.parse(JSON.stringify(eager.info)));
      assert.ok(eager.info.symbolCount > 1000);
      let cFrames = 0;
      for (const pc of pcs) {
        const e = eager.resolve(pc);
        assert.deepEqual(lazy.resolve(pc), e, `0x${pc.toString(16)}`);
        if (e.frames[0]?.source === "symtab") cFrames++;
      }
      assert.ok(cFrames > 20, `${cFrames} PCs answered from the symbol table`);
    } finally {
      lazy.close();
    }
    // The CLI opens lazily: C functions still come out by name.
    const c = /^([0-9a-f]+) [0-9a-f]+ [Tt] gosymd_c_add$/m.exec(nm);
    assert.ok(c, "nm lists gosymd_c_add");
    const cli = spawnSync(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "symbolize", "--binary", exe, `0x${c[1]}`, "0x1"],
      { encoding: "utf8" },
    );
    assert.equal(cli.status, 0, cli.stderr);
    assert.equal(cli.stdout, "gosymd_c_add\n?:0\n?\n?:0\n");
  });

  test("moduledata's gofunc unusable: the go:func.* symbol is tried next, symbols read eagerly or lazily", () => {
    const exe = goBuild("cgo-symbols", { go: go!, env: { CGO_ENABLED: "1" } });
    const src = new FileSource(exe);
    const obj = openObject(src);
    const md = locatePclntab(obj).moduledata;
    const sec = md === undefined ? undefined : obj.sectionAt(md.addr);
    src.close();
    assert.ok(md?.gofunc !== undefined && sec !== undefined, "moduledata with gofunc found");
    // Point moduledata.gofunc at an address no section holds: no inline tree reads from there.
    const bytes = readFileSync(exe);
    const at = sec.offset + (md.addr - sec.addr);
    let word = -1;
    for (let i = 0; i < 64 && word < 0; i++) {
      if (bytes.readBigUInt64LE(at + 8 * i) === BigInt(md.gofunc)) word = i;
    }
    assert.ok(word > 0, "gofunc is one of moduledata's words");
    bytes.writeBigUInt64LE(0x10n, at + 8 * word);
    const dir = mkdtempSync(join(tmpdir(), "gosymd-gofunc-"));
    const bad = join(dir, "bin");
    writeFileSync(bad, bytes);
    const good = openBinaryFile(exe);
    assert.equal(good.info.pclntab?.inlineTrees, true);
    const pcs = samplePcs(exe, 3000, 11);
    let chains = 0;
    for (const lazySymbols of [false, true]) {
      const b = openBinaryFile(bad, { lazySymbols });
      try {
        assert.equal(b.info.pclntab?.inlineTrees, true, `inline trees found (lazySymbols ${lazySymbols})`);
        for (const pc of pcs) {
          const want = good.resolve(pc);
          assert.deepEqual(b.resolve(pc), want, `0x${pc.toString(16)}`);
          if (want.frames.length > 1) chains++;
        }
      } finally {
        b.close();
      }
    }
    rmSync(dir, { recursive: true, force: true });
    assert.ok(chains > 100, `${chains} inline chains compared`);
  });

  test("per-address reasons", () => {
    const path = npmFixture("esbuild-0.25.0-linux-amd64"); // stripped: no symbol table
    const b = openBinaryFile(path);
    assert.equal(b.info.symbolCount, 0);
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
      assert.equal(b.resolve(bad).reason, "invalid_address", String(bad));
    }
    assert.equal(b.resolve(0x10).reason, "outside_binary");
    assert.equal(b.resolve(0x7fff_0000_0000).reason, "outside_binary");
    // .rodata: inside a loaded segment, not code.
    const ro = execFileSync("readelf", ["-SW", path], { encoding: "utf8" });
    const m = / \.rodata\s+PROGBITS\s+([0-9a-f]+)/.exec(ro);
    assert.ok(m, "readelf lists .rodata");
    const r = b.resolve(Number.parseInt(m[1]!, 16) + 16);
    assert.deepEqual(r.frames, []);
    assert.equal(r.reason, "no_symbol");
  });

  test("BinaryInfo agrees with readelf, go tool nm and go version", () => {
    for (const name of [
      "esbuild-0.5.26-linux-amd64",
      "esbuild-0.25.0-linux-386",
      "esbuild-0.28.2-linux-amd64",
    ]) {
      const path = npmFixture(name);
      const b = openBinaryFile(path);
      const info = b.info;
      assert.equal(info.format, "elf");
      const ro = execFileSync("readelf", ["-SW", path], { encoding: "utf8" });
      const m = / \.gopclntab\s+PROGBITS\s+([0-9a-f]+) [0-9a-f]+ ([0-9a-f]+)/.exec(ro);
      assert.ok(m, "readelf lists .gopclntab");
      assert.equal(info.pclntab?.addr, Number.parseInt(m[1]!, 16), `${name} pclntab addr`);
      assert.equal(info.pclntab?.size, Number.parseInt(m[2]!, 16), `${name} pclntab size`);
      assert.equal(info.pclntab?.foundBy, ".gopclntab");
      const ver = spawnSync(goTool, ["version", path], { encoding: "utf8" });
      if (ver.status === 0 && ver.stdout.trim() !== "")
        assert.equal(`${path}: ${info.goVersion}`, ver.stdout.trim().split("\n")[0]);
      else {
        // esbuild 0.28.2 carries no build info at all; neither tool invents a version.
        assert.equal(info.goVersion, "", ver.stderr);
        assert.equal(info.buildInfo, undefined);
      }
      assert.ok(
        b.memoryBytes > 0.5 * info.pclntab!.size && b.memoryBytes <= 1.5 * info.pclntab!.size,
        "memory",
      );
    }
    // Unstripped: the text start is runtime.text (1.2 tables: the first function).
    const path = npmFixture("esbuild-0.5.26-linux-amd64");
    const nm = execFileSync(goTool, ["tool", "nm", path], { encoding: "utf8", maxBuffer: 1 << 28 });
    const t = /^\s*([0-9a-f]+) [Tt] runtime\.text$/m.exec(nm);
    assert.ok(t, "go tool nm lists runtime.text");
    const b = openBinaryFile(path);
    assert.equal(b.info.pclntab?.textStart, Number.parseInt(t[1]!, 16));
    assert.equal(b.info.pclntab?.version, "1.2");
    assert.ok(b.info.symbolCount > 1000, `symbols: ${b.info.symbolCount}`);
  });
});
