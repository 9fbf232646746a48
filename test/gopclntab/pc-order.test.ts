/**
 * Lookups in pc order, for which the pclntab decodes a function's pc-value tables once for a run
 * of its addresses (PcValueCache), against the same lookups in input order on a fresh copy of the
 * binary (which walk the tables each time) — on real binaries of every table format, and on a
 * binary whose pc-value tables were damaged past where the walks stop.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { BufferSource } from "../../src/bytes/source.js";
import type { GoBinary } from "../../src/symtab/api.js";
import { openBinary, openBinaryFile, pclnTableOf } from "../../src/symtab/binary.js";
import type { Resolution } from "../../src/symtab/types.js";
import { npmFixture } from "../support/fixtures.js";
import { samplePcs } from "../support/sample.js";

describe("lookups in pc order answer what lookups in input order answer", () => {
  const names = [
    "buf-1.75.0-linux-amd64", // 1.20+ table, large
    "esbuild-0.13.15-linux-amd64", // 1.16 table
    "esbuild-0.19.12-linux-amd64", // 1.18 table
    "app-builder-3.4.0-linux-arm", // 1.2 table (Go 1.13), quantum 4
    "esbuild-0.25.0-linux-386",
  ];
  for (const name of names) {
    test(name, () => {
      const path = npmFixture(name);
      // Random PCs with runs in the same function (pc order then decodes tables) and repeats.
      const base = samplePcs(path, 4000, 11);
      const pcs = [...base, ...base.slice(0, 500), ...base.slice(0, 300).map((p) => p + 1), -5, 2 ** 60];
      const batch = inPcOrder(openBinaryFile(path, { sha256: null }), pcs);
      const one = openBinaryFile(path, { sha256: null });
      assert.equal(batch.length, pcs.length);
      for (let i = 0; i < pcs.length; i++) {
        assert.deepEqual(batch[i], one.resolve(pcs[i]!), `pc 0x${pcs[i]!.toString(16)} (#${i})`);
      }
    });
  }

  test("tables damaged past where a walk stops: decoding refuses, answers still agree", () => {
    const path = npmFixture("esbuild-0.25.0-linux-amd64");
    const bytes = new Uint8Array(readFileSync(path));
    const t = pclnTableOf(openBinaryFile(path, { sha256: null }))!;
    const tableStart = findSubarray(bytes, t.bytes.subarray(0, 64));
    assert.ok(tableStart >= 0, "pclntab bytes found in the file");
    // Overwrite part of every 50th function's line table with continuation bytes (0x80): lookups
    // of pcs near the entry end before the damage; a whole-table decode runs into it.
    let damaged = 0;
    for (let i = 0; i < t.nfunc; i += 50) {
      const tab = t.lineTableOffset(i);
      if (tab === 0) continue;
      const at = tableStart + t.header.pctab + tab;
      // Keep the first 6 bytes (two or three steps), damage the next 10.
      for (let k = 6; k < 16 && at + k < bytes.length; k++) bytes[at + k] = 0x80;
      damaged++;
    }
    assert.ok(damaged > 100);
    const pcs: number[] = [];
    for (let i = 0; i < t.nfunc; i += 50) {
      const e = t.entry(i);
      for (let d = 0; d < 8; d++) pcs.push(e + d);
    }
    const batch = inPcOrder(openBinary(new BufferSource(bytes), { sha256: null }), pcs);
    const one = openBinary(new BufferSource(bytes), { sha256: null });
    let corrupt = 0;
    for (let i = 0; i < pcs.length; i++) {
      const want = one.resolve(pcs[i]!);
      if (want.reason === "corrupt_tables") corrupt++;
      assert.deepEqual(batch[i], want, `pc 0x${pcs[i]!.toString(16)}`);
    }
    assert.ok(corrupt > 0, "some lookups reach the damage");
    assert.ok(corrupt < pcs.length, "some lookups end before it");
  });
});

function findSubarray(hay: Uint8Array, needle: Uint8Array): number {
  const first = needle[0]!;
  for (let i = hay.indexOf(first); i >= 0; i = hay.indexOf(first, i + 1)) {
    let k = 1;
    while (k < needle.length && hay[i + k] === needle[k]) k++;
    if (k === needle.length) return i;
  }
  return -1;
}

/** resolve of every pc, looked up in ascending pc order, answers in input order. */
function inPcOrder(bin: GoBinary, pcs: number[]): Resolution[] {
  const order = pcs.map((_, i) => i).sort((a, b) => pcs[a]! - pcs[b]! || a - b);
  const out: Resolution[] = pcs.map(() => ({ frames: [] }));
  for (const i of order) out[i] = bin.resolve(pcs[i]!);
  return out;
}
