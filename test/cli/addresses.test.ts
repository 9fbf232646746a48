/**
 * The CLI's bulk address scanner (bytes in, one value per token) against the reference path it
 * replaces for speed: `addressTokens` then `parseAddress` per token, on edge cases and on random
 * input mixing addresses, junk, comments and separators.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { addressTokens, parseAddress, scanAddressBytes } from "../../src/cli/addresses.js";
import { seededRandom } from "../support/sample.js";

/** What the scanner must give for `text`: [value as bigint or undefined, token] per token. */
function reference(text: string): Array<[bigint | undefined, string]> {
  return Array.from(addressTokens(text), (t) => [parseAddress(t).value, t]);
}

function scanned(text: string): Array<[bigint | undefined, string]> {
  const out: Array<[bigint | undefined, string]> = [];
  const b = Buffer.from(text);
  // Tokens are given text only when not a plain number: fill it in from the reference for those.
  const ref = reference(text);
  scanAddressBytes(b, 0, b.length, (v, t) => {
    const k = out.length;
    if (typeof v === "number") {
      assert.ok(Number.isSafeInteger(v) && v >= 0, `number values are safe integers (${v})`);
      out.push([BigInt(v), ref[k]?.[1] ?? "?"]);
    } else out.push([v, t]);
  });
  return out;
}

describe("scanAddressBytes", () => {
  const cases = [
    "",
    "0x401000",
    "0X4a5B20 4198400",
    "0x 0x0 0 00 0x0000000000000000 0x00000000000000000",
    "0xffffffffffffffff 0x10000000000000000 18446744073709551615 18446744073709551616",
    "9007199254740991 9007199254740992 0x1fffffffffffff 0x20000000000000",
    "12345678901234567890 123456789012345678901",
    "0x12g 12a -5 +5 0x-1 x12 0xx1 1.5",
    "0x10,0x20,,0x30\t0x40\r\n0x50\v0x60\f0x70",
    "0x10#comment 0x20\n# whole line 0x30\n0x40 # trailing\n#\n0x50",
    "héllo 0x10 ✓ 0x20",
    "\n\n\n   \n",
  ];
  for (const c of cases) {
    test(JSON.stringify(c), () => {
      assert.deepEqual(scanned(c), reference(c));
    });
  }

  test("random mixes of addresses, junk, comments and separators", () => {
    const next = seededRandom(12345);
    const rnd = (n: number) => Math.floor(next() * n);
    const pieces = [
      "0x",
      "0X",
      "0",
      "1",
      "9",
      "a",
      "F",
      "g",
      "x",
      "#",
      " ",
      "\n",
      ",",
      "\t",
      "\r",
      "é",
      "-",
      "ffff",
      "12345678",
    ];
    for (let k = 0; k < 2000; k++) {
      let text = "";
      const n = rnd(40);
      for (let i = 0; i < n; i++) text += pieces[rnd(pieces.length)];
      assert.deepEqual(scanned(text), reference(text), JSON.stringify(text));
    }
  });

  test("a range of a larger buffer", () => {
    const b = Buffer.from("0x11 0x22 0x33 0x44");
    const got: unknown[] = [];
    scanAddressBytes(b, 5, 14, (v) => got.push(v));
    assert.deepEqual(got, [0x22, 0x33]);
  });
});
