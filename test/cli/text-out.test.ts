/**
 * TextOut (the CLI's byte writer for text output) against what string building and Buffer.from
 * would give: ASCII and non-ASCII text, ranges of a string, cached strings, integers, pieces larger
 * than its buffer, and pieces handed on never changed afterwards.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { TextOut } from "../../src/cli/text-out.js";
import { seededRandom } from "../support/sample.js";

test("TextOut writes exactly the UTF-8 of the same output built as a string", () => {
  const rand = seededRandom(7);
  const pieces: Uint8Array[] = [];
  const copies: Buffer[] = [];
  const out = new TextOut((b) => {
    pieces.push(b);
    copies.push(Buffer.from(b));
  });
  const words = [
    "main.main",
    "runtime.gopanic",
    "日本.関数",
    "pkg.(*T).Méthode",
    "x".repeat(70_000),
    "",
    "a\u{1F600}b",
  ];
  const files = ["/src/a.go", "/ユーザー/b.go", "?"];
  let want = "";
  for (let i = 0; i < 20_000; i++) {
    const w = words[Math.floor(rand() * words.length)]!;
    const a = Math.floor(rand() * (w.length + 1));
    const b = a + Math.floor(rand() * (w.length - a + 1));
    // A range that does not split a surrogate pair (as names never do).
    const s = Buffer.from(w.slice(a, b)).toString() === w.slice(a, b) ? [a, b] : [0, w.length];
    out.text(w, s[0], s[1]);
    want += w.slice(s[0], s[1]);
    const f = files[Math.floor(rand() * files.length)]!;
    out.cached(f);
    want += f;
    out.byte(0x3a);
    want += ":";
    const n = [0, 7, 10, 99, 100, 65535, 1234567, 2 ** 31, Number.MAX_SAFE_INTEGER, -1][
      Math.floor(rand() * 10)
    ]!;
    out.uint(n);
    want += String(n);
    out.byte(10);
    want += "\n";
  }
  out.flush();
  const got = Buffer.concat(pieces);
  assert.equal(got.toString("utf8"), want);
  assert.deepEqual(got, Buffer.from(want, "utf8"));
  // Pieces handed on are never written to again.
  assert.deepEqual(Buffer.concat(copies), got);
  assert.ok(pieces.length > 10, `${pieces.length} pieces`);
});

test("TextOut fills the same buffer again only when emit says it is done with it", () => {
  for (const done of [true, false]) {
    const copies: Buffer[] = [];
    const handed = new Set<ArrayBufferLike>();
    const out = new TextOut((b) => {
      copies.push(Buffer.from(b));
      handed.add(b.buffer);
      return done;
    });
    let want = "";
    for (let i = 0; i < 30_000; i++) {
      const s = `pkg.fn${i}\n/src/f${i % 7}.go:${i}\n`;
      out.text(s);
      want += s;
    }
    out.flush();
    // Whether or not the buffer is reused, every piece was handed on whole before it was refilled.
    assert.equal(Buffer.concat(copies).toString("utf8"), want);
    assert.ok(copies.length > 5, `${copies.length} pieces`);
    if (done) assert.equal(handed.size, 1, "one buffer, refilled, when emit is done with each piece");
    else assert.equal(handed.size, copies.length, "a new buffer per piece when emit keeps them");
  }
});
