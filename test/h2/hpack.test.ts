/**
 * HPACK (RFC 7541): the Huffman decoder, the header block decoder with its dynamic table, and the
 * stateless encoder. Checked against the RFC's Appendix C vectors, a reference model of the
 * dynamic table, hostile input, and nghttp2 (node:http2) in both directions.
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { describe, test } from "node:test";
import { GosymdError } from "../../src/bytes/errors.js";
import { encodeHeaders, HpackDecoder, STATIC_TABLE } from "../../src/h2/hpack.js";
import { HUFFMAN_CODE_LENGTHS, HUFFMAN_CODES, huffmanDecode } from "../../src/h2/huffman.js";
import { seededRandom } from "../support/sample.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");

/** A bit-by-bit Huffman encoder for test inputs (padding with 1-bits, RFC 7541 §5.2). */
function huffmanEncode(s: string): Buffer {
  let bits = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    bits += HUFFMAN_CODES[c]!.toString(2).padStart(HUFFMAN_CODE_LENGTHS[c]!, "0");
  }
  while (bits.length % 8 !== 0) bits += "1";
  const out = Buffer.alloc(bits.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  return out;
}

/** An HPACK integer (§5.1) with the given flag bits and prefix length. */
function int(flags: number, prefixBits: number, v: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (v < max) return [flags | v];
  const out = [flags | max];
  v -= max;
  while (v >= 128) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function str(s: string, huffman = false): number[] {
  const bytes = huffman ? huffmanEncode(s) : Buffer.from(s, "latin1");
  return [...int(huffman ? 0x80 : 0, 7, bytes.length), ...bytes];
}

/** Literal with incremental indexing, new name. */
const litIdx = (name: string, value: string, huffman = false) => [
  0x40,
  ...str(name, huffman),
  ...str(value, huffman),
];

function decoder(maxTableSize = 4096, maxHeaderListSize = 1 << 20): HpackDecoder {
  return new HpackDecoder({ maxTableSize, maxHeaderListSize });
}

function assertGosymdError(fn: () => unknown, kind: string, what: string, message?: RegExp): void {
  let threw: unknown;
  try {
    fn();
  } catch (e) {
    threw = e;
  }
  assert.ok(threw !== undefined, `${what}: did not throw`);
  assert.ok(threw instanceof GosymdError, `${what}: threw ${String(threw)}, not a GosymdError`);
  assert.equal(threw.kind, kind, `${what}: kind ${threw.kind} (${threw.message})`);
  if (kind === "invalid_argument") assert.match(threw.message, /^HPACK: /, what);
  if (message !== undefined) assert.match(threw.message, message, what);
}

const flat = (pairs: [string, string][]) => pairs.flat();

describe("HPACK Huffman decoder", () => {
  test("decodes the RFC 7541 Appendix C strings", () => {
    const cases: [string, string][] = [
      ["f1e3 c2e5 f23a 6ba0 ab90 f4ff", "www.example.com"],
      ["a8eb 1064 9cbf", "no-cache"],
      ["25a8 49e9 5ba9 7d7f", "custom-key"],
      ["25a8 49e9 5bb8 e8b4 bf", "custom-value"],
      ["6402", "302"],
      ["aec3 771a 4b", "private"],
      ["d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff", "Mon, 21 Oct 2013 20:13:21 GMT"],
      ["9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3", "https://www.example.com"],
      ["9bd9 ab", "gzip"],
      [
        "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
      ],
    ];
    for (const [h, want] of cases) {
      const b = hex(h);
      assert.equal(huffmanDecode(b, 0, b.length), want);
      assert.deepEqual(huffmanEncode(want), b, `test encoder agrees on ${want}`);
      // Decoding a sub-range of a larger buffer.
      const padded = Buffer.concat([Buffer.from([0x00, 0xff]), b, Buffer.from([0x00])]);
      assert.equal(huffmanDecode(padded, 2, 2 + b.length), want);
    }
    assert.equal(huffmanDecode(Buffer.alloc(0), 0, 0), "");
  });

  test("round-trips every byte value, alone and in random strings", () => {
    for (let c = 0; c < 256; c++) {
      const s = String.fromCharCode(c);
      const b = huffmanEncode(s);
      assert.equal(huffmanDecode(b, 0, b.length), s, `byte ${c}`);
      const s3 = s + String.fromCharCode(255 - c) + s;
      const b3 = huffmanEncode(s3);
      assert.equal(huffmanDecode(b3, 0, b3.length), s3, `bytes around ${c}`);
    }
    const rnd = seededRandom(7541);
    for (let i = 0; i < 300; i++) {
      const len = Math.floor(rnd() * 60);
      let s = "";
      for (let j = 0; j < len; j++) {
        // Mostly ASCII (short codes), sometimes any byte (long codes).
        s += String.fromCharCode(rnd() < 0.7 ? 32 + Math.floor(rnd() * 95) : Math.floor(rnd() * 256));
      }
      const b = huffmanEncode(s);
      assert.equal(huffmanDecode(b, 0, b.length), s);
    }
  });

  test("rejects EOS in the data, padding over 7 bits and padding that is not all 1-bits", () => {
    const padding = /Huffman padding/;
    const eos = /EOS symbol/;
    const bad: [string, number[], RegExp][] = [
      ["8 bits of padding", [0xff], padding],
      ["'a' + 1 byte excess padding", [0x1f, 0xff], padding],
      ["'a' + 2 bytes excess padding", [0x1f, 0xff, 0xff], padding],
      ["'a' + 3 bytes excess padding", [0x1f, 0xff, 0xff, 0xff], padding],
      ["'a' + 29 bits excess padding", [0xff, 0x9f, 0xff, 0xff, 0xff], padding],
      ["30+ trailing 1-bits (golang.org/x/net)", [0x52, 0xbc, 0x30, 0xff, 0xff, 0xff, 0xff], eos],
      ["EOS then '?'", [0xff, 0xff, 0xff, 0xff, 0xfc], eos],
      ["EOS alone, padded", [0xff, 0xff, 0xff, 0xff], eos],
      ["'a' then EOS then '?'", [0x1f, 0xff, 0xff, 0xff, 0xff, 0xe0], eos],
      ["zero padding", [0x00], padding],
      ["fuzz crash (golang.org/x/net)", [0x30, 0x30, 0x91, 0xff, 0xff, 0xff, 0xff, 0xc8], eos],
    ];
    for (const [what, bytes, message] of bad) {
      const b = Buffer.from(bytes);
      assertGosymdError(() => huffmanDecode(b, 0, b.length), "invalid_argument", what, message);
    }
    // 'a' is 00011: 3 bits of 1-padding is valid, 3 bits of 0-padding or mixed is not.
    assert.equal(huffmanDecode(Buffer.from([0x1f]), 0, 1), "a");
    assertGosymdError(() => huffmanDecode(Buffer.from([0x18]), 0, 1), "invalid_argument", "a + 000");
    assertGosymdError(() => huffmanDecode(Buffer.from([0x1d]), 0, 1), "invalid_argument", "a + 101");
    // '0' is 00000: "00" + 6 bits of padding, "000" + 1 bit, "00000" + 7 bits (the maximum).
    assert.equal(huffmanDecode(Buffer.from([0x00, 0x3f]), 0, 2), "00");
    assert.equal(huffmanDecode(Buffer.from([0x00, 0x01]), 0, 2), "000");
    assert.equal(huffmanDecode(Buffer.from([0x00, 0x00, 0x00, 0x7f]), 0, 4), "00000");
    assertGosymdError(
      () => huffmanDecode(Buffer.from([0x00, 0x00, 0x00, 0x7e]), 0, 4),
      "invalid_argument",
      "00000 + 1111110",
    );
  });
});

describe("HPACK decoder: RFC 7541 Appendix C", () => {
  test("C.1 integer representation (via dynamic table size updates, 5-bit prefix)", () => {
    const d = decoder(4096);
    d.decode(hex("2a")); // C.1.1: 10 in a 5-bit prefix, with the 001 size-update pattern
    assert.equal(d.tableCapacity, 10);
    d.decode(hex("3f9a0a")); // C.1.2: 1337 in a 5-bit prefix
    assert.equal(d.tableCapacity, 1337);
    d.decode(hex("3f00")); // 31 encoded with a zero continuation byte
    assert.equal(d.tableCapacity, 31);
    d.decode(hex("3e"));
    assert.equal(d.tableCapacity, 30);
    // The 2^31-1 boundary of the integer decoder.
    const big = decoder(0x7fffffff);
    big.decode(Buffer.from(int(0x20, 5, 0x7fffffff)));
    assert.equal(big.tableCapacity, 0x7fffffff);
    assertGosymdError(
      () => big.decode(Buffer.from(int(0x20, 5, 0x80000000))),
      "invalid_argument",
      "2^31 in an integer",
      /exceeds 2\^31-1/,
    );
    // Up to 5 continuation bytes are accepted (here redundant zero groups), 6 are not.
    d.decode(Buffer.from([0x3f, 0x81, 0x80, 0x80, 0x80, 0x00]));
    assert.equal(d.tableCapacity, 32);
    assertGosymdError(
      () => d.decode(Buffer.from([0x3f, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00])),
      "invalid_argument",
      "6 continuation bytes",
      /too many continuation bytes/,
    );
  });

  test("C.2.1-C.2.4 literal and indexed representations", () => {
    const cases: [string, string, [string, string][], [string, string][]][] = [
      [
        "C.2.1",
        "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
        [["custom-key", "custom-header"]],
        [["custom-key", "custom-header"]],
      ],
      ["C.2.2", "040c 2f73 616d 706c 652f 7061 7468", [[":path", "/sample/path"]], []],
      ["C.2.3", "1008 7061 7373 776f 7264 0673 6563 7265 74", [["password", "secret"]], []],
      ["C.2.4", "82", [[":method", "GET"]], []],
    ];
    for (const [name, h, want, table] of cases) {
      const d = decoder();
      assert.deepEqual(d.decode(hex(h)), flat(want), name);
      assert.deepEqual(d.dynamicTable(), table, `${name} dynamic table`);
      assert.equal(d.tableSize, name === "C.2.1" ? 55 : 0, `${name} table size`);
    }
  });

  type Step = [string, [string, string][], [string, string][], number];
  function series(maxTableSize: number, steps: Step[]): void {
    const d = decoder(maxTableSize);
    steps.forEach(([h, want, table, size], i) => {
      assert.deepEqual(d.decode(hex(h)), flat(want), `step ${i + 1} headers`);
      assert.deepEqual(d.dynamicTable(), table, `step ${i + 1} dynamic table`);
      assert.equal(d.tableSize, size, `step ${i + 1} table size`);
    });
  }

  const req1: [string, string][] = [
    [":method", "GET"],
    [":scheme", "http"],
    [":path", "/"],
    [":authority", "www.example.com"],
  ];
  const req2: [string, string][] = [...req1, ["cache-control", "no-cache"]];
  const req3: [string, string][] = [
    [":method", "GET"],
    [":scheme", "https"],
    [":path", "/index.html"],
    [":authority", "www.example.com"],
    ["custom-key", "custom-value"],
  ];
  const reqTables: [string, string][][] = [
    [[":authority", "www.example.com"]],
    [
      ["cache-control", "no-cache"],
      [":authority", "www.example.com"],
    ],
    [
      ["custom-key", "custom-value"],
      ["cache-control", "no-cache"],
      [":authority", "www.example.com"],
    ],
  ];

  test("C.3 requests without Huffman coding, one decoder", () => {
    series(4096, [
      ["8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", req1, reqTables[0]!, 57],
      ["8286 84be 5808 6e6f 2d63 6163 6865", req2, reqTables[1]!, 110],
      ["8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65", req3, reqTables[2]!, 164],
    ]);
  });

  test("C.4 requests with Huffman coding, one decoder", () => {
    series(4096, [
      ["8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", req1, reqTables[0]!, 57],
      ["8286 84be 5886 a8eb 1064 9cbf", req2, reqTables[1]!, 110],
      ["8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf", req3, reqTables[2]!, 164],
    ]);
  });

  const date1 = "Mon, 21 Oct 2013 20:13:21 GMT";
  const date2 = "Mon, 21 Oct 2013 20:13:22 GMT";
  const loc = "https://www.example.com";
  const cookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
  const resp: [[string, string][], [string, string][], number][] = [
    [
      [
        [":status", "302"],
        ["cache-control", "private"],
        ["date", date1],
        ["location", loc],
      ],
      [
        ["location", loc],
        ["date", date1],
        ["cache-control", "private"],
        [":status", "302"],
      ],
      222,
    ],
    [
      [
        [":status", "307"],
        ["cache-control", "private"],
        ["date", date1],
        ["location", loc],
      ],
      [
        [":status", "307"],
        ["location", loc],
        ["date", date1],
        ["cache-control", "private"],
      ],
      222,
    ],
    [
      [
        [":status", "200"],
        ["cache-control", "private"],
        ["date", date2],
        ["location", loc],
        ["content-encoding", "gzip"],
        ["set-cookie", cookie],
      ],
      [
        ["set-cookie", cookie],
        ["content-encoding", "gzip"],
        ["date", date2],
      ],
      215,
    ],
  ];
  const respSteps = (blocks: string[]): Step[] =>
    blocks.map((h, i) => [h, resp[i]![0], resp[i]![1], resp[i]![2]]);

  test("C.5 responses without Huffman coding, table size 256 (evictions)", () => {
    series(
      256,
      respSteps([
        `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
         2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
         6c65 2e63 6f6d`,
        "4803 3330 37c1 c0bf",
        `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
         54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
         5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
         3d31`,
      ]),
    );
  });

  test("C.6 responses with Huffman coding, table size 256 (evictions)", () => {
    series(
      256,
      respSteps([
        `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
         2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
        "4883 640e ffc1 c0bf",
        `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
         77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
         9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
      ]),
    );
  });
});

describe("HPACK decoder: dynamic table", () => {
  test("matches a reference model over random blocks (ring wrap-around, growth, eviction, size updates)", () => {
    const rnd = seededRandom(4096);
    const pick = (n: number) => Math.floor(rnd() * n);
    for (const max of [0, 64, 256, 4096]) {
      const d = decoder(max);
      let model: [string, string][] = []; // newest first
      let cap = max;
      const sizeOf = (e: [string, string]) => e[0].length + e[1].length + 32;
      const modelSize = () => model.reduce((a, e) => a + sizeOf(e), 0);
      const evictTo = (limit: number) => {
        while (modelSize() > limit) model.pop();
      };
      for (let blockNo = 0; blockNo < 150; blockNo++) {
        const bytes: number[] = [];
        const want: string[] = [];
        if (rnd() < 0.15) {
          const n = pick(max + 1);
          bytes.push(...int(0x20, 5, n));
          cap = n;
          evictTo(cap);
        }
        const nfields = 1 + pick(8);
        for (let f = 0; f < nfields; f++) {
          const r = rnd();
          const huffman = rnd() < 0.5;
          if (r < 0.3 && model.length > 0) {
            const k = pick(model.length);
            bytes.push(...int(0x80, 7, 62 + k));
            want.push(...model[k]!);
          } else if (r < 0.4) {
            const k = 1 + pick(61);
            bytes.push(...int(0x80, 7, k));
            want.push(...STATIC_TABLE[k - 1]!);
          } else {
            const name = `x-h${pick(40)}`;
            const value = "v".repeat(pick(rnd() < 0.1 ? 300 : 40));
            const useIndexedName = model.length > 0 && rnd() < 0.3;
            const k = useIndexedName ? pick(model.length) : 0;
            const n = useIndexedName ? model[k]![0] : name;
            const indexing = rnd() < 0.7;
            const neverIndexed = rnd() < 0.5;
            const flags = indexing ? 0x40 : neverIndexed ? 0x10 : 0x00;
            bytes.push(...int(flags, indexing ? 6 : 4, useIndexedName ? 62 + k : 0));
            if (!useIndexedName) bytes.push(...str(n, huffman));
            bytes.push(...str(value, huffman));
            want.push(n, value);
            if (indexing) {
              const e: [string, string] = [n, value];
              if (sizeOf(e) > cap) model = [];
              else {
                evictTo(cap - sizeOf(e));
                model.unshift(e);
              }
            }
          }
        }
        assert.deepEqual(d.decode(Buffer.from(bytes)), want, `max ${max} block ${blockNo}`);
        assert.deepEqual(d.dynamicTable(), model, `max ${max} block ${blockNo} table`);
        assert.equal(d.tableSize, modelSize());
        assert.equal(d.tableCapacity, cap);
      }
    }
  });

  test("an entry larger than the table empties it; a size update evicts; a reduced table can grow back", () => {
    const d = decoder(100);
    d.decode(Buffer.from(litIdx("a", "1"))); // 34 bytes
    d.decode(Buffer.from(litIdx("b", "2")));
    assert.equal(d.tableSize, 68);
    d.decode(Buffer.from(litIdx("c", "3"))); // evicts a
    assert.deepEqual(d.dynamicTable(), [
      ["c", "3"],
      ["b", "2"],
    ]);
    d.decode(Buffer.from(litIdx("big", "x".repeat(70)))); // 105 > 100
    assert.deepEqual(d.dynamicTable(), []);
    assert.equal(d.tableSize, 0);
    d.decode(Buffer.from([...litIdx("a", "1"), ...litIdx("b", "2")]));
    d.decode(Buffer.from([0x20 | 20])); // size update to 20: evicts everything
    assert.deepEqual(d.dynamicTable(), []);
    d.decode(Buffer.from([0x3f, 100 - 31, ...litIdx("a", "1")])); // back to 100
    assert.deepEqual(d.dynamicTable(), [["a", "1"]]);
    // Two size updates at the start of a block are fine (§4.2).
    d.decode(Buffer.from([0x20, 0x3f, 100 - 31, 0x82]));
    assert.deepEqual(d.dynamicTable(), []);
    assert.equal(d.tableCapacity, 100);
    // Index 62 refers to a literal-name entry added earlier in the same block.
    assert.deepEqual(d.decode(Buffer.from([...litIdx("k", "v"), 0xbe])), ["k", "v", "k", "v"]);
  });

  test("literal field with an indexed name from the dynamic table", () => {
    const d = decoder();
    d.decode(Buffer.from(litIdx("x-trace", "1")));
    // without indexing (0000), never indexed (0001), with indexing (01), name index 62
    const block = [0x0f, 0x2f, ...str("2"), 0x1f, 0x2f, ...str("3", true), 0x7e, ...str("4")];
    assert.deepEqual(d.decode(Buffer.from(block)), ["x-trace", "2", "x-trace", "3", "x-trace", "4"]);
    assert.deepEqual(d.dynamicTable(), [
      ["x-trace", "4"],
      ["x-trace", "1"],
    ]);
  });

  test("values are byte-preserving latin1, raw and Huffman", () => {
    let all = "";
    for (let c = 0; c < 256; c++) all += String.fromCharCode(c);
    const d = decoder();
    const out = d.decode(Buffer.from([...litIdx("bin", all), ...litIdx("bin2", all, true), 0xbf, 0xbe]));
    assert.deepEqual(out, ["bin", all, "bin2", all, "bin", all, "bin2", all]);
    // A Uint8Array that is not a Buffer, at a non-zero offset in its ArrayBuffer.
    const raw = new Uint8Array([9, 9, 0x82, 0x84]);
    assert.deepEqual(decoder().decode(raw.subarray(2)), [":method", "GET", ":path", "/"]);
  });
});

describe("HPACK decoder: header list size limit", () => {
  test("exactly at the limit passes, one byte over throws limit_exceeded", () => {
    // ":method: GET" = 7 + 3 + 32 = 42; ":path: /" = 5 + 1 + 32 = 38
    assert.deepEqual(new HpackDecoder({ maxTableSize: 4096, maxHeaderListSize: 80 }).decode(hex("8284")), [
      ":method",
      "GET",
      ":path",
      "/",
    ]);
    assertGosymdError(
      () => new HpackDecoder({ maxTableSize: 4096, maxHeaderListSize: 79 }).decode(hex("8284")),
      "limit_exceeded",
      "79-byte limit",
    );
  });

  test("the rest of the block is still decoded, so later blocks see a consistent dynamic table", () => {
    const d = new HpackDecoder({ maxTableSize: 4096, maxHeaderListSize: 200 });
    const block = [...litIdx("x-big", "y".repeat(300)), ...litIdx("x-after", "z"), 0x82];
    assertGosymdError(() => d.decode(Buffer.from(block)), "limit_exceeded", "over the limit");
    assert.deepEqual(d.dynamicTable(), [
      ["x-after", "z"],
      ["x-big", "y".repeat(300)],
    ]);
    // The next block references both entries added after/while over the limit.
    assert.deepEqual(d.decode(Buffer.from([0xbe])), ["x-after", "z"]);
    assertGosymdError(() => d.decode(Buffer.from([0xbf])), "limit_exceeded", "indexed big entry");
    // Malformed input after the limit is reached is still reported as malformed.
    assertGosymdError(
      () => d.decode(Buffer.from([0xbf, 0x80])),
      "invalid_argument",
      "index 0 after the limit",
    );
    // Many references to a big entry do not build a huge result before throwing.
    assertGosymdError(() => d.decode(Buffer.alloc(10000, 0xbf)), "limit_exceeded", "amplification");
  });
});

describe("HPACK decoder: hostile input", () => {
  const cases: [string, number[], number?, RegExp?][] = [
    ["empty after indexed prefix (truncated integer)", [0xff]],
    ["integer continuation runs off the end", [0xff, 0x80]],
    ["integer overflow: 0x7f then many 0xff", [0xff, ...new Array<number>(20).fill(0xff)], 4096, /2\^31-1/],
    [
      "integer too many continuation bytes",
      [0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
      4096,
      /too many continuation bytes/,
    ],
    ["integer above 2^31-1", [0xff, 0xff, 0xff, 0xff, 0xff, 0x07], 4096, /exceeds 2\^31-1/],
    ["literal value one byte short at the end", [0x40, 0x01, 0x61, 0x02, 0x62], 4096, /past the end/],
    ["Huffman value one byte short at the end", [0x04, 0x82, 0x1f], 4096, /past the end/],
    ["index 0", [0x80]],
    ["index 0 after a valid field", [0x82, 0x80]],
    ["out-of-range index (empty dynamic table)", [0xbe]],
    ["out-of-range index, large", [0xff, 0xff, 0x7f]],
    ["literal with out-of-range name index", [0x7e, 0x01, 0x61]],
    ["without-indexing literal with out-of-range name index", [0x0f, 0x2f, 0x01, 0x61]],
    ["literal name missing", [0x40]],
    ["literal value missing", [0x40, 0x01, 0x61]],
    ["literal name length past the end", [0x40, 0x05, 0x61, 0x62]],
    ["literal value length past the end", [0x40, 0x01, 0x61, 0x7f, 0x10, 0x62]],
    ["Huffman value length past the end", [0x04, 0x83, 0x1f]],
    ["size update above the maximum", [0x3f, 0xe2, 0x1f], 4096],
    ["size update above a small maximum", [0x3f, 0x02], 32],
    ["size update after a field", [0x82, 0x20]],
    ["size update at the end of a block", [0x82, 0x84, 0x3f, 0x01]],
    ["Huffman string containing EOS", [0x04, 0x85, 0xff, 0xff, 0xff, 0xff, 0xfc]],
    ["Huffman string with 8 bits of padding", [0x04, 0x82, 0x1f, 0xff]],
    ["Huffman string with 0-bit padding", [0x04, 0x81, 0x18]],
    ["Huffman name with bad padding", [0x00, 0x81, 0x00, 0x01, 0x61]],
  ];
  for (const [what, bytes, max, message] of cases) {
    test(what, () => {
      assertGosymdError(
        () => decoder(max ?? 4096).decode(Buffer.from(bytes)),
        "invalid_argument",
        what,
        message,
      );
    });
  }

  test("every truncation of the Appendix C.5/C.6 third blocks decodes a prefix or throws invalid_argument", () => {
    // A block cut at a field boundary is a valid (shorter) block; anywhere else it must throw.
    const cases: [string[], string, number[]][] = [
      [
        [
          `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
           2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
          "4803 3330 37c1 c0bf",
        ],
        `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
         54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
         5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31`,
        [0, 1, 2, 33, 34, 40], // after 88, c1, date literal, c0, content-encoding
      ],
      [
        [
          `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
           2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
          "4883 640e ffc1 c0bf",
        ],
        `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
         77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
         9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
        [0, 1, 2, 26, 27, 32],
      ],
    ];
    for (const [before, last, ends] of cases) {
      const b = hex(last);
      for (let n = 0; n < b.length; n++) {
        const d = decoder(256);
        for (const h of before) d.decode(hex(h));
        if (ends.includes(n)) d.decode(b.subarray(0, n));
        else assertGosymdError(() => d.decode(b.subarray(0, n)), "invalid_argument", `truncated at ${n}`);
      }
    }
  });

  test("fuzz: random and mutated blocks give a result or a GosymdError, and keep table invariants", () => {
    const rnd = seededRandom(0x6870);
    const pick = (n: number) => Math.floor(rnd() * n);
    const seeds = [
      "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
      "8286 84be 5808 6e6f 2d63 6163 6865",
      "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
      "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
      "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
      "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
      "4883 640e ffc1 c0bf",
      "3fe1 1f 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf 1008 7061 7373 776f 7264 0673 6563 7265 74",
    ].map(hex);
    const persistent = [decoder(256, 400), decoder(4096, 1 << 16)];
    let results = 0;
    let errors = 0;
    for (let i = 0; i < 4000; i++) {
      let b: Buffer;
      if (i % 4 === 0) {
        b = Buffer.alloc(pick(40));
        for (let j = 0; j < b.length; j++) b[j] = pick(256);
      } else {
        b = Buffer.from(seeds[pick(seeds.length)]!);
        const nmut = 1 + pick(4);
        for (let m = 0; m < nmut; m++) {
          const op = pick(4);
          if (b.length === 0) break;
          const at = pick(b.length);
          if (op === 0) b[at] = pick(256);
          else if (op === 1) b[at] = b[at]! ^ (1 << pick(8));
          else if (op === 2) b = b.subarray(0, at);
          else b = Buffer.concat([b.subarray(0, at), Buffer.from([pick(256)]), b.subarray(at)]);
        }
      }
      for (const d of [decoder(256, 300), ...persistent]) {
        try {
          const out = d.decode(b);
          assert.ok(Array.isArray(out) && out.length % 2 === 0);
          for (const s of out) assert.equal(typeof s, "string");
          results++;
        } catch (e) {
          if (!(e instanceof GosymdError)) throw e;
          assert.ok(e.kind === "invalid_argument" || e.kind === "limit_exceeded", e.kind);
          errors++;
        }
        const table = d.dynamicTable();
        const size = table.reduce((a, [n, v]) => a + n.length + v.length + 32, 0);
        assert.equal(d.tableSize, size);
        assert.ok(d.tableSize <= d.tableCapacity);
      }
    }
    assert.ok(results > 500 && errors > 500, `results ${results}, errors ${errors}`);
  });
});

describe("HPACK encoder", () => {
  test("static matches are indexed, static names are literal-indexed-name, others literal-new-name", () => {
    assert.deepEqual(encodeHeaders([":status", "200"]), Buffer.from([0x88]));
    assert.deepEqual(encodeHeaders([":status", "500"]), Buffer.from([0x8e]));
    assert.deepEqual(encodeHeaders(["accept-encoding", "gzip, deflate"]), Buffer.from([0x90]));
    assert.deepEqual(encodeHeaders([":status", "201"]), Buffer.from([0x08, 0x03, 0x32, 0x30, 0x31]));
    // content-type is index 31: 4-bit prefix 15 + continuation 16.
    assert.deepEqual(
      encodeHeaders(["content-type", "a/b"]),
      Buffer.from([0x0f, 0x10, 0x03, 0x61, 0x2f, 0x62]),
    );
    assert.deepEqual(encodeHeaders(["x-a", "b"]), Buffer.from([0x00, 0x03, 0x78, 0x2d, 0x61, 0x01, 0x62]));
    assert.deepEqual(encodeHeaders(["www-authenticate", ""]), Buffer.from([0xbd]));
    assert.deepEqual(encodeHeaders([]), Buffer.alloc(0));
    assert.throws(() => encodeHeaders(["x"]), GosymdError);
  });

  test("round trip: random header lists through encodeHeaders and one HpackDecoder", () => {
    const rnd = seededRandom(20240601);
    const pick = (n: number) => Math.floor(rnd() * n);
    const d = decoder();
    const names = [...STATIC_TABLE.map(([n]) => n), "x-custom", "grpc-status", "a", "z".repeat(200)];
    for (let i = 0; i < 500; i++) {
      const fields: string[] = [];
      const n = pick(12);
      for (let f = 0; f < n; f++) {
        const r = rnd();
        if (r < 0.2) {
          fields.push(...STATIC_TABLE[pick(61)]!);
          continue;
        }
        const name = r < 0.8 ? names[pick(names.length)]! : `x-${pick(1e6).toString(36)}`;
        const len = [0, 1, 5, 126, 127, 128, 255, 300, 16384][pick(9)]!;
        let value = "";
        for (let j = 0; j < len; j++) value += String.fromCharCode(pick(256));
        fields.push(name, value);
      }
      const block = encodeHeaders(fields);
      assert.deepEqual(d.decode(block), fields);
      assert.equal(d.tableSize, 0, "the encoder never adds to the dynamic table");
    }
  });
});

/** An HTTP/2 frame: 24-bit length, type, flags, 31-bit stream id, payload. */
function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return Buffer.concat([h, payload]);
}

describe("HPACK against nghttp2 (node:http2)", () => {
  test("decodes a node:http2 client's request header blocks; the client decodes our responses", {
    timeout: 30_000,
  }, async () => {
    const PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    const dec = decoder(4096, 1 << 20);
    const seen: { streamId: number; fields: string[]; blockLength: number }[] = [];
    let continuations = 0;
    const problems: unknown[] = [];
    const responseFields = (n: number) => [
      ":status",
      n % 2 === 0 ? "200" : "404",
      "content-type",
      "text/plain",
      "x-request-number",
      String(n),
      "x-long",
      "L".repeat(3000 + n),
      "cache-control",
      "no-cache",
    ];
    const sockets: net.Socket[] = [];
    let client: http2.ClientHttp2Session | undefined;
    const server = net.createServer((sock) => {
      sockets.push(sock);
      let buf = Buffer.alloc(0);
      let prefaceSeen = false;
      let fragments: Buffer[] = [];
      let blockStream = 0;
      sock.on("error", () => {});
      sock.write(frame(0x4, 0, 0, Buffer.alloc(0))); // our (empty) SETTINGS
      sock.on("data", (data: Buffer) => {
        try {
          buf = Buffer.concat([buf, data]);
          if (!prefaceSeen) {
            if (buf.length < PREFACE.length) return;
            assert.equal(buf.subarray(0, PREFACE.length).toString("latin1"), PREFACE);
            buf = buf.subarray(PREFACE.length);
            prefaceSeen = true;
          }
          while (buf.length >= 9) {
            const len = buf.readUIntBE(0, 3);
            if (buf.length < 9 + len) break;
            const type = buf[3]!;
            const flags = buf[4]!;
            const streamId = buf.readUInt32BE(5) & 0x7fffffff;
            let payload = buf.subarray(9, 9 + len);
            buf = buf.subarray(9 + len);
            if (type === 0x4 && (flags & 0x1) === 0) sock.write(frame(0x4, 0x1, 0, Buffer.alloc(0)));
            if (type !== 0x1 && type !== 0x9) continue;
            if (type === 0x1) {
              let padLen = 0;
              if (flags & 0x8) {
                padLen = payload[0]!;
                payload = payload.subarray(1);
              }
              if (flags & 0x20) payload = payload.subarray(5);
              payload = payload.subarray(0, payload.length - padLen);
              fragments = [];
              blockStream = streamId;
            } else {
              assert.equal(streamId, blockStream, "CONTINUATION on the same stream");
              continuations++;
            }
            fragments.push(Buffer.from(payload));
            if ((flags & 0x4) === 0) continue; // no END_HEADERS yet
            const block = Buffer.concat(fragments);
            seen.push({ streamId: blockStream, fields: dec.decode(block), blockLength: block.length });
            const response = encodeHeaders(responseFields(seen.length));
            sock.write(frame(0x1, 0x4 | 0x1, blockStream, response)); // END_HEADERS | END_STREAM
          }
        } catch (e) {
          problems.push(e);
          sock.destroy();
          client?.destroy(e instanceof Error ? e : new Error(String(e)));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const addr = server.address();
    assert.ok(addr !== null && typeof addr === "object");
    const authority = `127.0.0.1:${addr.port}`;
    client = http2.connect(`http://${authority}`);
    client.on("error", (e) => problems.push(e));

    const requests: { headers: Record<string, string | string[]>; want: [string, string][] }[] = [];
    const add = (path: string, extra: [string, string | string[]][]) => {
      const headers: Record<string, string | string[]> = { ":path": path };
      const want: [string, string][] = [];
      for (const [k, v] of extra) {
        headers[k] = v;
        for (const one of Array.isArray(v) ? v : [v]) want.push([k, one]);
      }
      requests.push({ headers, want });
    };
    add("/", []);
    add("/gosymd.v1.Symbolizer/Symbolize", [
      ["content-type", "application/grpc"],
      ["te", "trailers"],
      ["user-agent", "grpc-node/1.0"],
      ["x-build-id", "abc123"],
    ]);
    add("/gosymd.v1.Symbolizer/Symbolize", [
      ["content-type", "application/grpc"],
      ["te", "trailers"],
      ["user-agent", "grpc-node/1.0"],
      ["x-build-id", "def456"],
    ]);
    add("/again?q=1", [
      ["x-multi", ["one", "two", "three"]],
      ["accept", "*/*"],
      ["x-long", "v".repeat(5000)],
    ]);
    add("/big", [["x-huge", "h".repeat(30000)]]); // ~22500 bytes Huffman-coded > 16384: CONTINUATION
    add("/again?q=1", [
      ["x-multi", ["one", "two", "three"]],
      ["accept", "*/*"],
      ["x-long", "v".repeat(5000)],
      ["authorization", "Bearer secret-token"],
    ]);
    for (let i = 0; i < 6; i++) {
      add(`/n/${i}`, [
        ["x-seq", String(i)],
        ["x-symbols", "!\"#$%&'()*+,-./0123456789:;<=>?@[\\]^_`{|}~"],
      ]);
    }

    try {
      for (const [i, r] of requests.entries()) {
        const req = client.request(r.headers, { endStream: true });
        const got = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
          req.on("response", resolve);
          req.on("error", reject);
        });
        req.resume();
        await new Promise((resolve) => req.on("close", resolve));
        const n = i + 1;
        assert.equal(got[":status"], n % 2 === 0 ? 200 : 404);
        assert.equal(got["content-type"], "text/plain");
        assert.equal(got["x-request-number"], String(n));
        assert.equal(got["x-long"], "L".repeat(3000 + n));
        assert.equal(got["cache-control"], "no-cache");
      }
    } finally {
      client.close();
      client.destroy();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
    assert.deepEqual(problems, []);
    assert.equal(seen.length, requests.length);
    for (const [i, r] of requests.entries()) {
      const s = seen[i]!;
      assert.equal(s.streamId, 2 * i + 1);
      const pairs: [string, string][] = [];
      for (let j = 0; j < s.fields.length; j += 2) pairs.push([s.fields[j]!, s.fields[j + 1]!]);
      const pseudo = pairs.filter(([k]) => k.startsWith(":"));
      assert.deepEqual(
        new Map(pseudo),
        new Map([
          [":method", "GET"],
          [":path", r.headers[":path"] as string],
          [":scheme", "http"],
          [":authority", authority],
        ]),
        `request ${i + 1} pseudo-headers`,
      );
      assert.equal(pseudo.length, 4);
      assert.deepEqual(
        pairs.filter(([k]) => !k.startsWith(":")),
        r.want,
        `request ${i + 1} headers`,
      );
    }
    // nghttp2 uses the dynamic table, so later requests must have referenced it.
    assert.ok(dec.tableSize > 0, "nghttp2 indexed some fields");
    const lengths = seen.map((s) => s.blockLength);
    assert.ok(lengths[2]! < lengths[1]! / 2, `request 3 reuses request 2's entries: ${lengths}`);
    assert.ok(lengths[11]! < lengths[6]!, `later small requests reuse earlier entries: ${lengths}`);
    // The 5000-byte value is Huffman-coded by nghttp2 (5000 'v' take 7 bits each).
    assert.ok(lengths[3]! < 4500, `Huffman-coded long value: ${lengths}`);
    assert.ok(continuations > 0, "the 30000-byte header was split into CONTINUATION frames");
  });
});
