import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { GosymdError } from "../../src/bytes/errors.js";
import { LocalStore } from "../../src/sources/store.js";
import { fakeBytes, fakeVerifier, sha256Hex } from "../cache/fake-binary.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "gosymd-store-"));
  dirs.push(d);
  return d;
}

const GNU = "00112233445566778899aabbccddeeff00112233";
const bytes = fakeBytes({
  gnu: GNU,
  go: "aaa/bbb",
  funcs: [{ name: "main.main", entry: 0x1000, end: 0x1100, file: "/x/main.go", line: 5 }],
  mem: 100,
});
const sha = sha256Hex(bytes);

async function put(store: LocalStore, b: Uint8Array, verify = fakeVerifier) {
  const w = await store.writer(1 << 20);
  // in two chunks
  await w.write(b.subarray(0, 7));
  await w.write(b.subarray(7));
  return store.ingest(await w.finish(), verify, { origin: "upload", fileName: "prog" });
}

test("ingest stores content-addressed with an alias index; reopening finds it", async () => {
  const dir = tmp();
  const store = await LocalStore.open(dir);
  const r = await put(store, bytes);
  assert.equal(r.alreadyPresent, false);
  assert.equal(r.meta.id, `sha256:${sha}`);
  assert.deepEqual(r.meta.aliases.sort(), [`sha256:${sha}`, GNU, "aaa/bbb"].sort());
  assert.ok(statSync(join(dir, "objects", sha.slice(0, 2), sha)).isFile());
  assert.equal(statSync(r.path).mode & 0o222, 0, "stored objects are read-only");
  const again = await LocalStore.open(dir);
  for (const k of [GNU, "aaa/bbb", `sha256:${sha}`]) {
    const f = await again.find([k]);
    assert.deepEqual(f, { id: `sha256:${sha}`, path: r.path });
  }
  assert.equal(await again.find(["ffff"]), undefined);
  assert.equal((await again.metaFor([GNU]))?.fileName, "prog");
  assert.deepEqual(readdirSync(join(dir, "tmp")), []);
});

test("uploading the same bytes twice is idempotent and does not decode again", async () => {
  const store = await LocalStore.open(tmp());
  let decodes = 0;
  const counting = (p: string) => {
    decodes++;
    return fakeVerifier(p);
  };
  const a = await put(store, bytes, counting);
  const b = await put(store, bytes, counting);
  assert.equal(a.alreadyPresent, false);
  assert.equal(b.alreadyPresent, true);
  assert.equal(decodes, 1);
  assert.deepEqual(b.meta, a.meta);
});

test("concurrent writers of one binary leave one complete object and no temp files", async () => {
  const dir = tmp();
  const store = await LocalStore.open(dir);
  const rs = await Promise.all(Array.from({ length: 8 }, () => put(store, bytes)));
  for (const r of rs) assert.equal(r.meta.id, `sha256:${sha}`);
  assert.deepEqual(readdirSync(join(dir, "objects", sha.slice(0, 2))), [sha]);
  assert.deepEqual(readdirSync(join(dir, "tmp")), []);
  assert.equal(sha256Hex(await import("node:fs").then((f) => f.readFileSync(rs[0]!.path))), sha);
});

test("partial and rejected writes are never visible", async () => {
  const dir = tmp();
  const store = await LocalStore.open(dir);
  // A writer that dies mid-way: its temp file is not an answer.
  const w = await store.writer(1 << 20);
  await w.write(bytes.subarray(0, 10));
  assert.equal(await store.find([GNU]), undefined);
  await w.abort();
  assert.equal(existsSync(w.path), false);
  // Not an executable: rejected with the decoder's kind; nothing stored, temp file removed.
  await assert.rejects(put(store, Buffer.from("#!/bin/sh\necho hi\n")), (e: GosymdError) => {
    assert.equal(e.kind, "not_executable");
    return true;
  });
  // Truncated: the decoder's truncated error.
  await assert.rejects(
    put(store, bytes.subarray(0, bytes.length - 5)),
    (e: GosymdError) => e.kind === "truncated",
  );
  assert.deepEqual(readdirSync(join(dir, "tmp")), []);
  assert.deepEqual(readdirSync(join(dir, "meta")), []);
  assert.deepEqual(readdirSync(join(dir, "objects")), []);
});

test("the writer enforces its size limit", async () => {
  const store = await LocalStore.open(tmp());
  const w = await store.writer(16);
  await w.write(new Uint8Array(10));
  await assert.rejects(w.write(new Uint8Array(10)), (e: GosymdError) => {
    assert.equal(e.kind, "limit_exceeded");
    assert.match(e.message, /16 bytes/);
    return true;
  });
  await w.abort();
});
