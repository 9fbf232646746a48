/**
 * The grpc-go load generator the service benchmark reports its p99 from (bench/loadgen): built
 * with Debian's Go and grpc-go sources, run against a real server, it must count every request,
 * see every answer's locations, and report a failed batch as an error rather than a fast answer.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { buildLoadgen, runLoadgen } from "../../bench/loadgen.js";
import { SymbolizerService } from "../../src/gen/gosymd/v1/symbolizer_pb.js";
import { type Gosymd, startGosymd } from "../../src/server.js";
import { tempDir, upload } from "../rpc/helpers.js";
import { npmFixture } from "../support/fixtures.js";
import { samplePcs } from "../support/sample.js";

describe("bench/loadgen (grpc-go) against a real server", () => {
  let srv: Gosymd;
  let bin: string;
  let id: string;
  let pcsFile: string;
  const t = tempDir("gosymd-loadgen-");
  before(async () => {
    const built = buildLoadgen();
    if ("skipped" in built) throw new Error(`cannot build bench/loadgen: ${built.skipped}`);
    bin = built.path;
    srv = await startGosymd({
      port: 0,
      host: "127.0.0.1",
      storeDir: join(t.dir, "store"),
      cacheBytes: 64 << 20,
    });
    const fixture = npmFixture("esbuild-0.19.12-linux-amd64");
    const c = createClient(SymbolizerService, createConnectTransport({ baseUrl: srv.url, httpVersion: "2" }));
    const { readFileSync } = await import("node:fs");
    id = (await upload(c, readFileSync(fixture))).info!.buildId;
    pcsFile = join(t.dir, "pcs.bin");
    const pcs = samplePcs(fixture, 2_000, 3);
    writeFileSync(pcsFile, Buffer.from(BigUint64Array.from(pcs, (x) => BigInt(x)).buffer));
  });
  const run = (buildId: string, ...args: string[]) =>
    runLoadgen(bin, `127.0.0.1:${srv.port}`, buildId, pcsFile, args);
  after(async () => {
    await srv?.close(500);
    t.cleanup();
  });

  test("closed loop: every request answered with one location per address", async () => {
    const r = await run(id, "-batch", "100", "-concurrency", "2", "-seconds", "1", "-warmup", "5");
    assert.equal(r.errors, 0, r.firstError);
    assert.ok(r.requests >= 20, `${r.requests} requests in a second`);
    assert.equal(r.addresses, 100 * r.requests);
    assert.equal(r.latenciesMs.length, r.requests);
    assert.ok(r.latenciesMs.every((x) => x > 0));
  });

  test("open loop: the requested rate, each latency counted from its due time", async () => {
    const r = await run(
      id,
      "-batch",
      "10",
      "-rate",
      "200",
      "-seconds",
      "1",
      "-warmup",
      "5",
      "-warmup-seconds",
      "0.5",
    );
    assert.equal(r.errors, 0, r.firstError);
    // The ramp-up (0.5 s at the rate) is sent but not measured.
    assert.equal(r.rampRequests, 100);
    assert.equal(r.rampErrors, 0);
    assert.equal(r.requests, 200);
    assert.equal(r.latenciesMs.length, 200);
    assert.ok(r.lateSendMaxMs >= 0 && r.lateSendMaxMs < 1000);
  });

  test("a batch whose binary is unknown is an error, not an answer", async () => {
    const r = await run(
      "00".repeat(20),
      "-batch",
      "10",
      "-rate",
      "50",
      "-seconds",
      "0.5",
      "-warmup",
      "0",
      "-warmup-seconds",
      "0.2",
    );
    assert.equal(r.requests, 25);
    assert.equal(r.errors, 25);
    assert.equal(r.rampRequests, 10);
    assert.equal(r.rampErrors, 10);
    assert.equal(r.addresses, 0);
    assert.match(r.firstError ?? "", /batch status code 5/);
  });
});
