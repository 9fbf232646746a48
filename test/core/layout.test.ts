/**
 * The per-release runtime layouts of src/core/layout.ts against the DWARF of real binaries: for
 * every installed toolchain, our fixture program is built with debug info and
 * test/fixtures/go/core-layout-oracle (debug/dwarf + debug/elf) prints the offsets of the g, m,
 * _panic, type-descriptor and moduledata fields we read, and the runtime.waitReasonStrings table.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, test } from "node:test";
import { runtimeLayout } from "../../src/core/layout.js";
import { buildProgram } from "../oracle/support.js";
import { availableGoVersions, newestGo } from "../support/fixtures.js";

interface Oracle {
  fields: Record<string, Record<string, number>>;
  waitReasons: string[] | null;
}

function oracle(bin: string): Oracle {
  const tool = buildProgram("core-layout-oracle", "tool", { go: newestGo()! });
  return JSON.parse(execFileSync(tool, [bin], { encoding: "utf8", maxBuffer: 16 << 20 })) as Oracle;
}

describe("runtime layouts vs DWARF", { timeout: 300_000 }, () => {
  for (const go of availableGoVersions()) {
    test(`go${go}`, () => {
      const bin = buildProgram("core-crash", "default", { go });
      const o = oracle(bin);
      const L = runtimeLayout(`go${go}.0`);
      assert.equal(L.verified, true, `go${go} should have a verified layout`);
      const g = o.fields["runtime.g"]!;
      const expectG: Record<string, number> = {
        "stack.lo": L.g.stackLo,
        "stack.hi": L.g.stackHi,
        _panic: L.g.panic,
        m: L.g.m,
        "sched.sp": L.g.schedSp,
        "sched.pc": L.g.schedPc,
        "sched.g": L.g.schedG,
        "sched.lr": L.g.schedLr,
        "sched.bp": L.g.schedBp,
        syscallsp: L.g.syscallsp,
        syscallpc: L.g.syscallpc,
        atomicstatus: L.g.atomicstatus,
        goid: L.g.goid,
        waitsince: L.g.waitsince,
        waitreason: L.g.waitreason,
        lockedm: L.g.lockedm,
        sig: L.g.sig,
        sigcode0: L.g.sigcode0,
        sigcode1: L.g.sigcode1,
        sigpc: L.g.sigpc,
        gopc: L.g.gopc,
        startpc: L.g.startpc,
      };
      if (L.g.syscallbp >= 0) expectG.syscallbp = L.g.syscallbp;
      else assert.equal(g.syscallbp, undefined, "g.syscallbp exists but the layout has none");
      if (L.g.parentGoid >= 0) expectG.parentGoid = L.g.parentGoid;
      else assert.equal(g.parentGoid, undefined, "g.parentGoid exists but the layout has none");
      for (const [k, v] of Object.entries(expectG)) assert.equal(g[k], v, `go${go} runtime.g.${k}`);

      const m = o.fields["runtime.m"]!;
      for (const [k, v] of Object.entries({
        g0: L.m.g0,
        procid: L.m.procid,
        gsignal: L.m.gsignal,
        curg: L.m.curg,
        id: L.m.id,
        alllink: L.m.alllink,
      }))
        assert.equal(m[k], v, `go${go} runtime.m.${k}`);

      const p = o.fields["runtime._panic"]!;
      for (const [k, v] of Object.entries({
        arg: L.panic.arg,
        link: L.panic.link,
        recovered: L.panic.recovered,
        goexit: L.panic.goexit,
      }))
        assert.equal(p[k], v, `go${go} runtime._panic.${k}`);

      const t = o.fields["internal/abi.Type"] ?? o.fields["runtime._type"]!;
      const tf = (a: string, b: string) => t[a] ?? t[b];
      assert.equal(tf("Str", "str"), L.type.str, "type.str");
      assert.equal(tf("TFlag", "tflag"), L.type.tflag, "type.tflag");
      assert.equal(tf("Kind_", "kind"), L.type.kind, "type.kind");
      assert.equal(o.fields["runtime.moduledata"]!.types, L.moduledataTypes, "moduledata.types");

      assert.ok(
        o.waitReasons !== null && o.waitReasons.length > 10,
        "waitReasonStrings read from the binary",
      );
      assert.deepEqual([...L.waitReasons], o.waitReasons, `go${go} waitReasonStrings`);
    });
  }

  test("releases without a verified layout use the nearest one, flagged", () => {
    const l = runtimeLayout("go1.20.3");
    assert.equal(l.verified, false);
    assert.equal(l.version, "1.21");
    assert.equal(runtimeLayout("go1.18").version, "1.19");
    assert.equal(runtimeLayout("").verified, false);
  });
});
