import assert from "node:assert/strict";
import { test } from "node:test";
import { Answers, MAX_ANSWER_BYTES } from "../../src/cache/answers.js";

test("Answers: every stored body comes back byte for byte, across growth and chunks", () => {
  const a = new Answers();
  const want = new Map<number, Uint8Array>();
  let seed = 1;
  const rnd = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed;
  };
  for (let i = 0; i < 20_000; i++) {
    const pc = rnd() * 4096 + (rnd() & 4095); // up to 2^44: both hash halves matter
    const len = 1 + (rnd() % 700);
    const body = new Uint8Array(len);
    for (let j = 0; j < len; j++) body[j] = rnd() & 255;
    a.add(pc, body, len);
    want.set(pc, body); // a later add for the same PC replaces the answer
  }
  assert.equal(a.size, want.size);
  assert.ok(a.bytes > 20_000 * 350, "bodies span several 1 MiB chunks");
  const dst = new Uint8Array(1024);
  for (const [pc, body] of want) {
    const ref = a.get(pc);
    assert.ok(ref !== undefined);
    assert.equal(Answers.lengthOf(ref), body.length);
    assert.equal(a.firstByte(ref), body[0]);
    a.copyTo(ref, dst, 3);
    assert.deepEqual(dst.subarray(3, 3 + body.length), body);
  }
  assert.equal(a.get(2 ** 50), undefined);
  assert.equal(a.add(1, new Uint8Array(MAX_ANSWER_BYTES + 1), MAX_ANSWER_BYTES + 1), 0);
  assert.equal(a.get(1), undefined, "oversized answers are not kept");
  a.clear();
  assert.equal(a.size, 0);
  assert.equal(a.get([...want.keys()][0]!), undefined);
});
