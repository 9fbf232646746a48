/**
 * `gosymd upload --server URL FILE...`: sends binaries to a gosymd server, skipping the ones it
 * already has (asked by content hash first), with a progress bar for large files on a terminal.
 */
import { createHash } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { create, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { GosymdError } from "../bytes/errors.js";
import { type BinaryInfo, BinaryInfoSchema } from "../gen/gosymd/v1/binary_pb.js";
import { UploadBinaryRequestSchema } from "../gen/gosymd/v1/symbolizer_pb.js";
import { connect, fromRpcError } from "./client.js";
import { EXIT, reportError, usageError } from "./io.js";

export const uploadHelp = `Usage: gosymd upload --server URL [options] FILE...

Uploads Go executables to a gosymd server so that it can symbolize their addresses by any of
their build IDs. Files the server already has (same SHA-256) are skipped without sending them.

Options:
  --server URL        the gosymd server (http://host:50051, https://... for TLS)
  --force             upload even when the server already has the file
  --json              print one JSON object per file (the server's BinaryInfo)
  --chunk-bytes N     bytes per stream message (default 1048576)
  --progress          always show a progress bar (default: on a terminal, for files >= 8 MiB)
  --no-progress       never show a progress bar
  --ca FILE           CA bundle to trust for https:// servers
  --cert FILE         client certificate (mTLS) ...
  --key FILE          ... and its key
  -h, --help          this help

Exit status: 0 when every file is on the server afterwards, 1 when any was refused or failed.

Examples:
  gosymd upload --server http://localhost:50051 ./bin/server ./bin/worker
  gosymd upload --server https://gosymd.internal --ca ca.pem dist/*
`;

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      server: { type: "string" },
      force: { type: "boolean" },
      json: { type: "boolean" },
      "chunk-bytes": { type: "string" },
      progress: { type: "boolean" },
      "no-progress": { type: "boolean" },
      ca: { type: "string" },
      cert: { type: "string" },
      key: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** A one-line progress bar on stderr. */
class Progress {
  private last = 0;
  private readonly t0 = Date.now();
  constructor(
    private readonly name: string,
    private readonly total: number,
    private readonly enabled: boolean,
  ) {}
  update(done: number, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    const frac = this.total > 0 ? done / this.total : 1;
    const width = 30;
    const fill = Math.round(frac * width);
    const mb = (n: number) => (n / 1048576).toFixed(1);
    const secs = Math.max(0.001, (now - this.t0) / 1000);
    process.stderr.write(
      `\r${this.name.slice(0, 30).padEnd(30)} [${"#".repeat(fill)}${".".repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ${mb(done)}/${mb(this.total)} MiB ${mb(done / secs)} MiB/s`,
    );
  }
  end(): void {
    if (this.enabled) process.stderr.write("\n");
  }
}

export async function uploadCommand(argv: string[]): Promise<number> {
  let opts: ReturnType<typeof parse>;
  try {
    opts = parse(argv);
  } catch (e) {
    return reportError(usageError((e as Error).message, "run `gosymd upload --help`"), "upload");
  }
  const v = opts.values;
  if (v.help) {
    process.stdout.write(uploadHelp);
    return EXIT.ok;
  }
  try {
    if (v.server === undefined) throw usageError("--server URL is required");
    if (opts.positionals.length === 0) throw usageError("no files given");
    const chunkBytes = v["chunk-bytes"] === undefined ? 1 << 20 : Number(v["chunk-bytes"]);
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1024 || chunkBytes > 16 << 20) {
      throw usageError("--chunk-bytes must be between 1024 and 16777216");
    }
    const server = v.server;
    const client = connect(server, {
      ...(v.ca ? { ca: v.ca } : {}),
      ...(v.cert ? { cert: v.cert } : {}),
      ...(v.key ? { key: v.key } : {}),
    });
    let failed = 0;
    for (const file of opts.positionals) {
      try {
        let size: number;
        try {
          const st = statSync(file);
          if (!st.isFile()) throw new GosymdError("invalid_argument", `${file} is not a regular file`);
          size = st.size;
        } catch (e) {
          if (e instanceof GosymdError) throw e;
          throw new GosymdError("not_found", `cannot read ${file}: ${(e as Error).message}`);
        }
        const sha = await sha256File(file);
        if (!v.force) {
          try {
            const have = await client.getBinaryInfo({ buildId: `sha256:${sha}` });
            report(file, "present", have.info, v.json === true);
            continue;
          } catch (e) {
            if (ConnectError.from(e).code !== Code.NotFound) throw fromRpcError(e, server);
          }
        }
        const showProgress = v["no-progress"]
          ? false
          : v.progress === true || (process.stderr.isTTY && size >= 8 << 20);
        const bar = new Progress(basename(file), size, showProgress === true);
        async function* messages() {
          yield create(UploadBinaryRequestSchema, {
            metadata: { fileName: basename(file), size: BigInt(size), sha256: sha },
          });
          let sent = 0;
          for await (const chunk of createReadStream(file, { highWaterMark: chunkBytes })) {
            const b = chunk as Buffer;
            sent += b.length;
            yield create(UploadBinaryRequestSchema, { chunk: b });
            bar.update(sent);
          }
          bar.update(sent, true);
        }
        let res: Awaited<ReturnType<typeof client.uploadBinary>>;
        try {
          res = await client.uploadBinary(messages());
        } catch (e) {
          throw fromRpcError(e, server);
        } finally {
          bar.end();
        }
        report(file, res.alreadyPresent ? "present" : "uploaded", res.info, v.json === true);
      } catch (e) {
        failed++;
        reportError(e, `upload ${file}`);
      }
    }
    return failed > 0 ? EXIT.input : EXIT.ok;
  } catch (e) {
    return reportError(e, "upload");
  }
}

function report(
  file: string,
  what: "uploaded" | "present",
  info: BinaryInfo | undefined,
  json: boolean,
): void {
  if (json) {
    const j = info ? toJson(BinaryInfoSchema, info) : null;
    process.stdout.write(
      `${JSON.stringify({ file, status: what, buildId: info?.buildId ?? "", info: j })}\n`,
    );
    return;
  }
  const ids = info?.buildIds;
  const parts = [info?.buildId ?? "?"];
  if (ids?.gnu) parts.push(`gnu ${ids.gnu}`);
  if (ids?.go) parts.push(`go ${ids.go}`);
  if (ids?.machoUuid) parts.push(`uuid ${ids.machoUuid}`);
  if (info?.goVersion) parts.push(info.goVersion);
  process.stdout.write(
    `${what === "present" ? "skipped (already on server)" : "uploaded"} ${file}: ${parts.join(", ")}\n`,
  );
}
