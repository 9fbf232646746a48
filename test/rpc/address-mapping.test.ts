/**
 * The two address mappings of Symbolize: `numericMapper` (numbers, for the hot loop) must give
 * exactly `addressMapper`'s link-time PC (bigints, the reference), and −1 exactly where
 * `addressMapper` explains why there is none, for every address kind it covers.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import type { CachedBinary } from "../../src/cache/binary-cache.js";
import { AddressKind, SymbolizeBatchSchema } from "../../src/gen/gosymd/v1/symbolizer_pb.js";
import { addressMapper, numericMapper } from "../../src/rpc/symbolizer.js";

const entry = { segments: [] } as unknown as CachedBinary;
const base = 0x7f1200000000n;
const near = [0n, 1n, 2n, 0x401000n, 0x401001n, 2n ** 52n, 2n ** 53n - 1n];

describe("numericMapper agrees with addressMapper", () => {
  const cases: Array<[string, Parameters<typeof create<typeof SymbolizeBatchSchema>>[1], bigint[]]> = [
    ["link-time", {}, near],
    ["link-time, return addresses", { returnAddresses: true }, near],
    [
      "runtime",
      { addressKind: AddressKind.RUNTIME, loadBase: base },
      [0n, base - 1n, base, base + 1n, ...near.map((a) => base + a)],
    ],
    [
      "runtime, return addresses",
      { addressKind: AddressKind.RUNTIME, loadBase: base, returnAddresses: true },
      [0n, base - 1n, base, base + 1n, base + 2n, ...near.map((a) => base + a)],
    ],
    ["runtime, base 0", { addressKind: AddressKind.RUNTIME, loadBase: 0n }, near],
  ];
  for (const [name, init, addrs] of cases) {
    test(name, () => {
      const batch = create(SymbolizeBatchSchema, init);
      const num = numericMapper(batch);
      assert.ok(num !== undefined);
      const ref = addressMapper(batch, entry);
      for (const a of addrs) {
        if (Number(a) > Number.MAX_SAFE_INTEGER) continue;
        const want = ref(a);
        const got = num(Number(a));
        if (typeof want === "string") assert.equal(got, -1, `0x${a.toString(16)}: ${want}`);
        else assert.equal(got, want, `0x${a.toString(16)}`);
      }
    });
  }
  test("kinds that need bigints have no numeric mapper", () => {
    assert.equal(
      numericMapper(create(SymbolizeBatchSchema, { addressKind: AddressKind.FILE_OFFSET })),
      undefined,
    );
    assert.equal(
      numericMapper(create(SymbolizeBatchSchema, { addressKind: AddressKind.RUNTIME, loadBase: 2n ** 60n })),
      undefined,
    );
  });
});
