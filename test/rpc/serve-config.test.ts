import assert from "node:assert/strict";
import { homedir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { GosymdError } from "../../src/bytes/errors.js";
import { defaultDataDir, parseBytes, serveConfig } from "../../src/cli/serve.js";

test("data directory: GOSYMD_DATA_DIR, then XDG_DATA_HOME/gosymd, then ~/.local/share/gosymd", () => {
  assert.equal(defaultDataDir({ GOSYMD_DATA_DIR: "/d", XDG_DATA_HOME: "/x" }), "/d");
  assert.equal(defaultDataDir({ XDG_DATA_HOME: "/x" }), "/x/gosymd");
  assert.equal(defaultDataDir({}), join(homedir(), ".local", "share", "gosymd"));
});

test("sizes", () => {
  assert.equal(parseBytes("--x", "1073741824"), 1073741824);
  assert.equal(parseBytes("--x", "512MiB"), 512 * 1024 * 1024);
  assert.equal(parseBytes("--x", "2GiB"), 2 * 1024 ** 3);
  assert.equal(parseBytes("--x", "1.5GB"), 1.5e9);
  for (const bad of ["", "abc", "-1", "0", "12XB"]) {
    assert.throws(
      () => parseBytes("--x", bad),
      (e: GosymdError) => e.kind === "invalid_argument",
    );
  }
});

test("serve flags and environment", () => {
  const c = serveConfig(
    ["--port", "0", "--cache-bytes", "64MiB", "--debuginfod", "http://a:8002/", "--max-addresses", "10"],
    { GOSYMD_DATA_DIR: "/data", DEBUGINFOD_URLS: "http://b:8002 http://a:8002", DEBUGINFOD_TIMEOUT: "5" },
  );
  assert.equal(c.port, 0);
  assert.equal(c.cacheBytes, 64 << 20);
  assert.equal(c.storeDir, "/data/store");
  assert.deepEqual(c.debuginfodUrls, ["http://a:8002", "http://b:8002"]);
  assert.equal(c.debuginfod?.timeoutMs, 5000);
  assert.equal(c.limits?.maxAddressesPerRequest, 10);
  const l = serveConfig(["--max-profile-bytes", "256MiB", "--max-core-bytes", "1GiB"], {});
  assert.equal(l.limits?.maxProfileBytes, 256 << 20);
  assert.equal(l.limits?.maxCoreBytes, 1 << 30);
  const d = serveConfig([], {});
  assert.equal(d.nodeHttp2, undefined);
  assert.equal(serveConfig([], { GOSYMD_NODE_HTTP2: "1" }).nodeHttp2, true);
  assert.equal(d.port, 50051);
  assert.equal(d.host, "0.0.0.0");
  assert.equal(d.cacheBytes, 1024 ** 3);
  for (const bad of [
    ["--port", "70000"],
    ["--tls-cert", "x"],
    ["--tls-client-ca", "ca"],
    ["--bogus"],
    ["--max-core-bytes", "lots"],
  ]) {
    assert.throws(
      () => serveConfig(bad, {}),
      (e: GosymdError) => e.kind === "invalid_argument",
      bad.join(" "),
    );
  }
});
