/**
 * OpenTelemetry wiring through the standard OTEL_* variables on a spawned `gosymd serve`:
 * spans exported over OTLP/HTTP (JSON) to a local receiver, metrics scraped from the Prometheus
 * endpoint. Checks a span per RPC and per decode, and the request/address/cache/decode metrics.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SymbolizerService } from "../../src/gen/gosymd/v1/symbolizer_pb.js";
import { tempDir, upload } from "../rpc/helpers.js";
import { goBuild, newestGo, ROOT } from "../support/fixtures.js";

const go = newestGo();

async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe("telemetry (OTLP traces, Prometheus metrics)", { skip: go ? false : "no Go toolchain" }, () => {
  const data = tempDir("gosymd-otel-");
  const spans: string[] = [];
  let receiver: http.Server;
  let proc: ChildProcess;
  let url = "";
  let promPort = 0;
  const logs: string[] = [];

  before(async () => {
    receiver = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d) => {
        body += d;
      });
      req.on("end", () => {
        if (req.url === "/v1/traces") {
          const j = JSON.parse(body) as {
            resourceSpans: { scopeSpans: { spans: { name: string }[] }[] }[];
          };
          for (const rs of j.resourceSpans)
            for (const ss of rs.scopeSpans) for (const sp of ss.spans) spans.push(sp.name);
        }
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const otlp = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    promPort = await freePort();
    proc = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(ROOT, "src/cli/main.ts"),
        "serve",
        "--port",
        "0",
        "--host",
        "127.0.0.1",
        "--store",
        join(data.dir, "s"),
      ],
      {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          ...process.env,
          OTEL_TRACES_EXPORTER: "otlp",
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${otlp}/v1/traces`,
          OTEL_BSP_SCHEDULE_DELAY: "100",
          OTEL_METRICS_EXPORTER: "prometheus",
          OTEL_EXPORTER_PROMETHEUS_HOST: "127.0.0.1",
          OTEL_EXPORTER_PROMETHEUS_PORT: String(promPort),
          OTEL_LOGS_EXPORTER: "none",
        },
      },
    );
    proc.stderr!.on("data", (d) => logs.push(String(d)));
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no start: ${logs.join("")}`)), 30_000);
      createInterface({ input: proc.stdout! }).on("line", (line) => {
        logs.push(line);
        if (line.includes('"gosymd listening"')) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { url: string }).url);
        }
      });
      proc.once("exit", (c) => reject(new Error(`exited ${c}: ${logs.join("\n")}`)));
    });
  });
  after(async () => {
    if (proc.exitCode === null) proc.kill("SIGKILL");
    await new Promise((r) => receiver.close(r));
    data.cleanup();
  });

  test("a span per RPC and per decode; metrics on the Prometheus endpoint", async () => {
    const bin = readFileSync(
      goBuild("hello", { go: go!, flags: ["-ldflags=-B gobuildid"], tag: "gnu-buildid" }),
    );
    const c = createClient(SymbolizerService, createGrpcTransport({ baseUrl: url }));
    await upload(c, bin);
    // Inline contents go through the cache's decode path (a decode span).
    await c.symbolize({
      batches: [{ binary: { ref: { case: "contents", value: bin } }, addresses: [1n, 2n] }],
    });
    await c.symbolize({
      batches: [{ binary: { ref: { case: "buildId", value: "00".repeat(20) } }, addresses: [1n] }],
    });
    const metrics = await (await fetch(`http://127.0.0.1:${promPort}/metrics`)).text();
    for (const m of [
      "gosymd_rpc_requests",
      "gosymd_rpc_duration",
      "gosymd_symbolize_addresses",
      "gosymd_cache_lookups",
      "gosymd_decode_duration",
      "gosymd_upload_bytes",
    ]) {
      assert.match(metrics, new RegExp(`^${m}`, "m"), `${m} missing from /metrics`);
    }
    assert.match(metrics, /gosymd_symbolize_addresses_total\{[^}]*outcome="failed_batch"[^}]*\} 1/);
    // Spans are flushed on shutdown at the latest.
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGTERM");
    await exited;
    assert.ok(spans.includes("gosymd.v1.SymbolizerService/Symbolize"), `spans: ${spans.join(", ")}`);
    assert.ok(spans.includes("gosymd.v1.SymbolizerService/UploadBinary"));
    assert.ok(spans.includes("gosymd.decode"));
  });
});
