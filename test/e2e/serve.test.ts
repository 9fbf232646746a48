/**
 * End to end: the same scenarios against (1) a spawned `gosymd serve` process, everywhere, and
 * (2) the Docker image built from our Dockerfile, through testcontainers, where a Docker engine
 * is reachable (skipped with the reason otherwise). Clients are the real CLI (`gosymd upload`,
 * `gosymd symbolize --server`), curl-style HTTP/JSON and `buf curl` over gRPC with reflection.
 * Oracles: `go tool nm` for function addresses, and the local `gosymd symbolize --binary`.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { tempDir } from "../rpc/helpers.js";
import { goBin, goBuild, newestGo, ROOT } from "../support/fixtures.js";

const pexec = promisify(execFile);
const MAIN = join(ROOT, "src/cli/main.ts");
const BUF = join(ROOT, "node_modules/.bin/buf");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
async function cli(args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await pexec(process.execPath, ["--import", "tsx", MAIN, ...args], {
      cwd: ROOT,
      maxBuffer: 64 << 20,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === "number" ? err.code : -1,
      stdout: err.stdout ?? "",
      stderr: err.stderr ?? "",
    };
  }
}

function nm(go: string, path: string): Map<string, number> {
  const out = execFileSync(goBin(go), ["tool", "nm", path], { encoding: "utf8", maxBuffer: 256 << 20 });
  const m = new Map<string, number>();
  for (const line of out.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 3 && (f[1] === "T" || f[1] === "t")) m.set(f[2]!, Number.parseInt(f[0]!, 16));
  }
  return m;
}

function gnuId(path: string): string {
  const m = /Build ID: ([0-9a-f]+)/.exec(execFileSync("readelf", ["-n", path], { encoding: "utf8" }));
  return m![1]!;
}

const go = newestGo();

/** The scenarios, against any server URL. */
function scenarios(getUrl: () => string) {
  const t = tempDir("gosymd-e2e-");
  let hello = "";
  let other = "";
  after(() => t.cleanup());
  before(() => {
    hello = goBuild("hello", { go: go!, flags: ["-ldflags=-B gobuildid"], tag: "gnu-buildid" });
    // A second program, with only a Go build ID (no GNU note): found by its Go build ID.
    other = goBuild("matrix", { go: go! });
  });

  test("upload: stores binaries, skips what the server has, refuses non-executables", async () => {
    const url = getUrl();
    const first = await cli(["upload", "--server", url, hello, other]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`uploaded ${hello}: sha256:[0-9a-f]{64}, gnu ${gnuId(hello)}`));
    const second = await cli(["upload", "--server", url, hello]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /skipped \(already on server\)/);
    // --force sends it again (idempotent on the server), with the progress bar on stderr.
    const forced = await cli([
      "upload",
      "--server",
      url,
      "--force",
      "--progress",
      "--chunk-bytes",
      "65536",
      hello,
    ]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, /\[#{30}\] 100%/);
    assert.match(
      forced.stdout,
      /skipped \(already on server\)/,
      "the server reports it already had the bytes",
    );
    const junk = join(t.dir, "notes.txt");
    writeFileSync(junk, "just some text\n".repeat(10));
    const bad = await cli(["upload", "--server", url, junk]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not an executable/);
  });

  test("symbolize --server answers like the local engine, by GNU and Go build ID", async () => {
    const url = getUrl();
    const syms = nm(go!, hello);
    const addr = `0x${syms.get("main.main")!.toString(16)}`;
    const remote = await cli(["symbolize", "--server", url, "--build-id", gnuId(hello), addr]);
    assert.equal(remote.code, 0, remote.stderr);
    const local = await cli(["symbolize", "--binary", hello, addr]);
    assert.equal(remote.stdout, local.stdout);
    assert.match(remote.stdout, /^main\.main\n.*main\.go:\d+\n$/);
    // The second program by its Go build ID, JSON output, several functions; `go tool nm` is the oracle.
    const ebSyms = nm(go!, other);
    const names = ["main.main", "runtime.mallocgc", "fmt.Fprintf"].filter((n) => ebSyms.has(n));
    assert.ok(names.length >= 2);
    const goId = JSON.parse((await cli(["info", "--json", other])).stdout).buildIds.go as string;
    const js = await cli([
      "symbolize",
      "--server",
      url,
      "--build-id",
      goId,
      "--json",
      ...names.map((n) => String(ebSyms.get(n))),
    ]);
    assert.equal(js.code, 0, js.stderr);
    const lines = js.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => l.frames.at(-1).function),
      names,
    );
    const unknown = await cli(["symbolize", "--server", url, "--build-id", "00".repeat(20), "0x1"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown build ID 0{40}/);
  });

  test("HTTP/JSON (curl) and buf curl over gRPC with reflection", async () => {
    const url = getUrl();
    const res = await fetch(`${url}/gosymd.v1.SymbolizerService/GetBinaryInfo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ buildId: gnuId(hello) }),
    });
    assert.equal(res.status, 200);
    const info = (await res.json()) as { info: { format: string; arch: string; goVersion: string } };
    assert.equal(info.info.format, "elf");
    assert.match(info.info.goVersion, /^go1\.\d+/);
    const { stdout } = await pexec(BUF, [
      "curl",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      "-d",
      "{}",
      `${url}/grpc.health.v1.Health/Check`,
    ]);
    assert.deepEqual(JSON.parse(stdout), { status: "SERVING" });
  });
}

describe("e2e: spawned `gosymd serve`", { skip: go ? false : "no Go toolchain" }, () => {
  const data = tempDir("gosymd-e2e-serve-");
  let proc: ChildProcess;
  let url = "";
  let startupGc = "";
  const logs: string[] = [];
  before(async () => {
    proc = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        MAIN,
        "serve",
        "--port",
        "0",
        "--host",
        "127.0.0.1",
        "--store",
        join(data.dir, "store"),
        "--cache-bytes",
        "256MiB",
        "--grace-ms",
        "3000",
      ],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    proc.stderr!.on("data", (d) => logs.push(String(d)));
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start: ${logs.join("")}`)), 30_000);
      const rl = createInterface({ input: proc.stdout! });
      rl.on("line", (line) => {
        logs.push(line);
        try {
          const j = JSON.parse(line) as { msg?: string; url?: string; gc?: string };
          if (j.msg === "gosymd listening" && j.url) {
            clearTimeout(timer);
            // The service's collector settings (src/gc-tuning.ts) are applied and reported.
            startupGc = j.gc ?? "";
            resolve(j.url);
          }
        } catch {
          // not JSON
        }
      });
      proc.once("exit", (c) => reject(new Error(`server exited with ${c}: ${logs.join("\n")}`)));
    });
  });
  after(() => {
    if (proc.exitCode === null) proc.kill("SIGKILL");
    data.cleanup();
  });

  scenarios(() => url);

  test("starts with the latency collector settings, and reports them", async () => {
    const { GC_FLAGS } = await import("../../src/gc-tuning.js");
    assert.equal(startupGc, GC_FLAGS.join(" "));
  });

  test("SIGTERM drains and exits 0", async () => {
    const exited = new Promise<number | null>((r) => proc.once("exit", (c) => r(c)));
    proc.kill("SIGTERM");
    const code = await Promise.race([
      exited,
      new Promise<string>((r) => setTimeout(() => r("timeout"), 10_000)),
    ]);
    assert.equal(code, 0, logs.join("\n"));
    assert.ok(
      logs.some((l) => l.includes('"msg":"stopped"')),
      "logs the stop",
    );
  });
});

function dockerUnavailable(): string | false {
  try {
    execFileSync("docker", ["info", "--format", "{{.ServerVersion}}"], { stdio: "pipe", timeout: 10_000 });
    return false;
  } catch (e) {
    const msg = String((e as { stderr?: Buffer }).stderr ?? (e as Error).message)
      .trim()
      .split("\n")[0];
    return `no Docker engine reachable (${msg}); the same scenarios ran against a spawned gosymd serve`;
  }
}

const dockerSkip = !go ? "no Go toolchain" : dockerUnavailable();
describe("e2e: Docker image (testcontainers)", { skip: dockerSkip }, () => {
  let container:
    | { getHost(): string; getMappedPort(p: number): number; stop(): Promise<unknown> }
    | undefined;
  let url = "";
  before(async () => {
    const { GenericContainer, Wait } = await import("testcontainers");
    const image = await GenericContainer.fromDockerfile(ROOT).build("gosymd-e2e:test", {
      deleteOnExit: true,
    });
    container = await image
      .withExposedPorts(50051)
      .withWaitStrategy(Wait.forHealthCheck())
      .withStartupTimeout(120_000)
      .start();
    url = `http://${container.getHost()}:${container.getMappedPort(50051)}`;
  });
  after(async () => {
    await container?.stop();
  });
  scenarios(() => url);
});
