import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { GosymdError } from "../../src/bytes/errors.js";
import { aliasKeys } from "../../src/cache/aliases.js";
import { BinaryCache } from "../../src/cache/binary-cache.js";
import { LocalStore } from "../../src/sources/store.js";
import type { BinarySource } from "../../src/sources/types.js";
import { countingDecoder, fakeBytes, fakeVerifier, sha256Hex } from "./fake-binary.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function storeWith(
  n: number,
  mem: number,
): Promise<{ store: LocalStore; ids: string[]; gnus: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "gosymd-cache-"));
  dirs.push(dir);
  const store = await LocalStore.open(dir);
  const ids: string[] = [];
  const gnus: string[] = [];
  for (let i = 0; i < n; i++) {
    const gnu = sha256Hex(Buffer.from(`gnu${i}`)).slice(0, 40);
    const bytes = fakeBytes({
      gnu,
      go: `act${i}/content${i}`,
      funcs: [{ name: `main.f${i}`, entry: 0x1000, end: 0x2000, file: "/src/main.go", line: 10 + i }],
      mem,
    });
    const w = await store.writer(1 << 20);
    await w.write(bytes);
    const r = await store.ingest(await w.finish(), fakeVerifier, { origin: "test" });
    ids.push(r.meta.id);
    gnus.push(gnu);
  }
  return { store, ids, gnus };
}

describe("BinaryCache", () => {
  test("a budget smaller than the working set evicts by bytes and stays within budget", async () => {
    const mem = 1_000_000;
    const { store, ids } = await storeWith(10, mem);
    const dec = countingDecoder();
    const budget = 3_500_000; // room for 3 entries of ~1 MB
    const cache = new BinaryCache({
      maxBytes: budget,
      sources: [store],
      decoder: dec.decoder,
      entryOverheadBytes: 1000,
    });
    for (let round = 0; round < 2; round++) {
      for (const id of ids) {
        const e = await cache.get(id);
        assert.equal(e.id, id);
        const s = cache.stats();
        assert.ok(s.bytes <= budget, `cache holds ${s.bytes} bytes, budget ${budget}`);
      }
    }
    const s = cache.stats();
    assert.equal(s.entries, 3);
    assert.equal(s.bytes, 3 * (mem + 1000));
    assert.equal(dec.count(), 20, "every access in a cyclic scan over 10 > 3 entries is a miss");
    assert.equal(s.evictions, 17);
    // The most recent 3 are hits now.
    for (const id of ids.slice(-3)) await cache.get(id);
    assert.equal(dec.count(), 20);
    // An entry larger than the whole budget is served but not kept.
    const big = await storeWith(1, budget * 2);
    const cache2 = new BinaryCache({ maxBytes: budget, sources: [big.store], decoder: dec.decoder });
    const e = await cache2.get(big.ids[0]!);
    assert.equal(e.bin.memoryBytes, budget * 2);
    assert.equal(cache2.stats().entries, 0);
    assert.equal(cache2.stats().bytes, 0);
  });

  test("50 concurrent requests for one cold binary cause exactly one decode", async () => {
    const { store, ids, gnus } = await storeWith(1, 1000);
    const dec = countingDecoder();
    let finds = 0;
    const counted: BinarySource = {
      name: "store",
      remote: false,
      accepts: () => true,
      find: (keys, ctx) => {
        finds++;
        return store.find(keys, ctx);
      },
    };
    const cache = new BinaryCache({ maxBytes: 1 << 20, sources: [counted], decoder: dec.decoder });
    // Mix the aliases: the GNU ID, its uppercase form, and the canonical sha256.
    const names = [gnus[0]!, gnus[0]!.toUpperCase(), ids[0]!];
    const got = await Promise.all(Array.from({ length: 50 }, (_, i) => cache.get(names[i % 3]!)));
    assert.equal(dec.count(), 1);
    assert.ok(finds <= 2, `source asked ${finds} times (once per distinct alias at most)`);
    for (const e of got) assert.equal(e, got[0]);
  });

  test("every alias resolves to one entry", async () => {
    const { store, ids, gnus } = await storeWith(1, 1000);
    const dec = countingDecoder();
    const cache = new BinaryCache({ maxBytes: 1 << 20, sources: [store], decoder: dec.decoder });
    const a = await cache.get(gnus[0]!);
    const b = await cache.get("act0/content0");
    const c = await cache.get(ids[0]!);
    const d = await cache.get(`SHA256:${ids[0]!.slice(7).toUpperCase()}`);
    assert.equal(a, b);
    assert.equal(a, c);
    assert.equal(a, d);
    assert.equal(dec.count(), 1);
    assert.equal(cache.stats().entries, 1);
    assert.deepEqual([...a.keys].sort(), [ids[0]!, gnus[0]!, "act0/content0"].sort());
  });

  test("unknown and malformed build IDs", async () => {
    const { store } = await storeWith(0, 0);
    const cache = new BinaryCache({
      maxBytes: 1 << 20,
      sources: [store],
      decoder: countingDecoder().decoder,
    });
    const unknown = "0123456789abcdef0123456789abcdef01234567";
    await assert.rejects(cache.get(unknown), (e: GosymdError) => {
      assert.equal(e.kind, "not_found");
      assert.match(e.message, new RegExp(unknown));
      assert.match(e.message, /tried: store/);
      return true;
    });
    for (const bad of ["", "xyz!", "sha256:abcd", "12-34", "a".repeat(300)]) {
      await assert.rejects(cache.get(bad), (e: GosymdError) => e.kind === "invalid_argument");
    }
  });

  test("a waiter's abort does not cancel the shared load", async () => {
    const { store, ids } = await storeWith(1, 1000);
    const dec = countingDecoder();
    const cache = new BinaryCache({ maxBytes: 1 << 20, sources: [store], decoder: dec.decoder });
    const ac = new AbortController();
    const p1 = cache.get(ids[0]!, { signal: ac.signal });
    const p2 = cache.get(ids[0]!);
    ac.abort();
    await assert.rejects(p1, (e: GosymdError) => e.kind === "cancelled");
    const e = await p2;
    assert.equal(e.id, ids[0]);
    assert.equal(dec.count(), 1);
  });
});

test("remembered answers stay within their budget", async () => {
  const { store, ids } = await storeWith(1, 1000);
  const cache = new BinaryCache({
    maxBytes: 8 << 20,
    answerBytes: 3 << 20,
    sources: [store],
    decoder: countingDecoder().decoder,
  });
  const e = await cache.get(ids[0]!);
  for (let pc = 0; pc < 40_000; pc++) {
    cache.remember(e, pc, new Uint8Array(100), 100);
    assert.ok(cache.stats().answerBytes <= 3 << 20);
  }
  assert.ok(e.answers.size > 0 && e.answers.size < 40_000, `${e.answers.size} answers`);
  assert.ok(cache.stats().bytes <= cache.maxBytes);
  cache.clear();
  assert.equal(cache.stats().answerBytes, 0);
});

describe("aliasKeys", () => {
  test("normalizes every alias form", () => {
    assert.deepEqual(aliasKeys("ABCDEF0123"), ["abcdef0123"]);
    assert.deepEqual(aliasKeys("01234567-89AB-CDEF-0123-456789ABCDEF"), ["0123456789abcdef0123456789abcdef"]);
    const h = "a".repeat(64);
    assert.deepEqual(aliasKeys(h), [h, `sha256:${h}`]);
    assert.deepEqual(aliasKeys(`sha256:${h.toUpperCase()}`), [`sha256:${h}`]);
    assert.deepEqual(aliasKeys("Ab_c-1/De=2"), ["Ab_c-1/De=2"]);
    assert.throws(() => aliasKeys("abc"), GosymdError);
  });
});
