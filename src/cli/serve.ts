/**
 * `gosymd serve`: runs the gRPC / gRPC-Web / Connect service with an embedded local store.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { GosymdError } from "../bytes/errors.js";
import { tuneGcForLatency } from "../gc-tuning.js";
import { DEFAULT_LIMITS } from "../rpc/limits.js";
import { type Gosymd, type GosymdConfig, startGosymd } from "../server.js";
import { debuginfodUrls } from "../sources/debuginfod.js";
import { startTelemetry } from "../telemetry/sdk.js";
import { EXIT, reportError, usageError } from "./io.js";

export const serveHelp = `Usage: gosymd serve [options]

Serves gosymd.v1.SymbolizerService over gRPC, gRPC-Web and Connect (HTTP/JSON) on one port
(h2c and HTTP/1.1 in cleartext; h2 and HTTP/1.1 with TLS), plus grpc.health.v1.Health and
gRPC server reflection. Binaries come from the in-memory cache, the local store (uploads and
earlier fetches), then debuginfod servers.

Options:
  --port N              port to listen on (default 50051; 0 picks a free one)
  --host ADDR           address to bind (default 0.0.0.0)
  --store DIR           local store directory (default: <data dir>/store, where the data dir is
                        $GOSYMD_DATA_DIR, else $XDG_DATA_HOME/gosymd, else ~/.local/share/gosymd)
  --cache-bytes N       budget for decoded tables in memory, e.g. 1073741824, 512MiB, 2GiB
                        (default 1GiB)
  --debuginfod URL      a debuginfod server to fetch unknown GNU build IDs from; repeatable;
                        DEBUGINFOD_URLS (space-separated) is used as well
  --debuginfod-timeout-ms N   per-attempt timeout (default: DEBUGINFOD_TIMEOUT seconds, else 15000)
  --max-upload-bytes N  largest accepted upload (default 2GiB)
  --max-addresses N     most addresses per Symbolize request (default ${DEFAULT_LIMITS.maxAddressesPerRequest})
  --read-max-bytes N    largest request message (default 64MiB)
  --max-profile-bytes N largest profile SymbolizeProfile accepts, as sent; raises that RPC's
                        message limit when above --read-max-bytes (default 64MiB)
  --max-core-bytes N    largest core AttributeCore accepts; spooled to the store's tmp/ (default 4GiB)
  --tls-cert FILE       serve TLS with this certificate chain (PEM) ...
  --tls-key FILE        ... and this private key (PEM)
  --tls-client-ca FILE  require client certificates signed by this CA (mTLS)
  --log-level LEVEL     trace, debug, info (default), warn, error
  --grace-ms N          on SIGTERM, how long in-flight calls may finish (default 10000)
  -h, --help            this help

Latency: the service runs V8's garbage collector with a larger old-generation headroom and no
memory reducer (fewer major GCs, whose pauses were the p99 latency; see src/gc-tuning.ts);
GOSYMD_GC_TUNING=0 keeps V8's defaults. Cleartext HTTP/2 is served by gosymd's own HTTP/2 layer;
GOSYMD_NODE_HTTP2=1 uses node:http2 instead (TLS always does).

Telemetry: with OTEL_* variables set (e.g. OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_METRICS_EXPORTER=
prometheus), traces and metrics are exported through the OpenTelemetry SDK.

Examples:
  gosymd serve
  gosymd serve --port 8080 --store /var/lib/gosymd --cache-bytes 4GiB --debuginfod https://debuginfod.example.com
  curl -s -H 'content-type: application/json' -d '{"batches":[{"binary":{"buildId":"ID"},"addresses":["4198400"]}]}' \\
    http://localhost:50051/gosymd.v1.SymbolizerService/Symbolize
`;

/** The data directory: $GOSYMD_DATA_DIR, $XDG_DATA_HOME/gosymd, or ~/.local/share/gosymd. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GOSYMD_DATA_DIR) return env.GOSYMD_DATA_DIR;
  if (env.XDG_DATA_HOME) return join(env.XDG_DATA_HOME, "gosymd");
  return join(homedir(), ".local", "share", "gosymd");
}

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mib: 1024 ** 2,
  g: 1e9,
  gb: 1e9,
  gib: 1024 ** 3,
  t: 1e12,
  tb: 1e12,
  tib: 1024 ** 4,
};

/** "1073741824", "512MiB", "2GiB", "1.5GB" → bytes. */
export function parseBytes(flag: string, text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined)
    throw usageError(`${flag}: not a size: ${JSON.stringify(text)} (e.g. 536870912, 512MiB, 2GiB)`);
  const v = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(v) || v <= 0) throw usageError(`${flag}: must be a positive size`);
  return v;
}

function parseCount(flag: string, text: string, min = 1): number {
  if (!/^\d+$/.test(text.trim())) throw usageError(`${flag}: not a number: ${JSON.stringify(text)}`);
  const v = Number(text);
  if (!Number.isSafeInteger(v) || v < min) throw usageError(`${flag}: must be >= ${min}`);
  return v;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      store: { type: "string" },
      "cache-bytes": { type: "string" },
      debuginfod: { type: "string", multiple: true },
      "debuginfod-timeout-ms": { type: "string" },
      "max-upload-bytes": { type: "string" },
      "max-addresses": { type: "string" },
      "read-max-bytes": { type: "string" },
      "max-profile-bytes": { type: "string" },
      "max-core-bytes": { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "tls-client-ca": { type: "string" },
      "log-level": { type: "string" },
      "grace-ms": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

/** Turns flags into a server configuration (exported for tests). */
export function serveConfig(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): GosymdConfig & { graceMs: number; logLevel: string } {
  let v: ReturnType<typeof parse>["values"];
  try {
    v = parse(argv).values;
  } catch (e) {
    throw usageError((e as Error).message, "run `gosymd serve --help`");
  }
  const port = v.port === undefined ? 50051 : parseCount("--port", v.port, 0);
  if (port > 65535) throw usageError("--port: must be <= 65535");
  const cfg: GosymdConfig & { graceMs: number; logLevel: string } = {
    host: v.host ?? "0.0.0.0",
    port,
    storeDir: v.store ?? join(defaultDataDir(env), "store"),
    cacheBytes: v["cache-bytes"] === undefined ? 1024 ** 3 : parseBytes("--cache-bytes", v["cache-bytes"]),
    debuginfodUrls: debuginfodUrls(v.debuginfod ?? [], env),
    graceMs: v["grace-ms"] === undefined ? 10_000 : parseCount("--grace-ms", v["grace-ms"], 0),
    logLevel: v["log-level"] ?? env.GOSYMD_LOG_LEVEL ?? "info",
    limits: {},
    ...(env.GOSYMD_NODE_HTTP2 === "1" ? { nodeHttp2: true } : {}),
  };
  const timeout =
    v["debuginfod-timeout-ms"] !== undefined
      ? parseCount("--debuginfod-timeout-ms", v["debuginfod-timeout-ms"])
      : env.DEBUGINFOD_TIMEOUT && /^\d+$/.test(env.DEBUGINFOD_TIMEOUT)
        ? Number(env.DEBUGINFOD_TIMEOUT) * 1000
        : undefined;
  const maxsize =
    env.DEBUGINFOD_MAXSIZE && /^\d+$/.test(env.DEBUGINFOD_MAXSIZE)
      ? Number(env.DEBUGINFOD_MAXSIZE)
      : undefined;
  cfg.debuginfod = {
    ...(timeout !== undefined ? { timeoutMs: timeout } : {}),
    ...(maxsize !== undefined && maxsize > 0 ? { maxBytes: maxsize } : {}),
  };
  if (v["max-upload-bytes"] !== undefined)
    cfg.limits!.maxUploadBytes = parseBytes("--max-upload-bytes", v["max-upload-bytes"]);
  if (v["max-addresses"] !== undefined)
    cfg.limits!.maxAddressesPerRequest = parseCount("--max-addresses", v["max-addresses"]);
  if (v["read-max-bytes"] !== undefined)
    cfg.limits!.readMaxBytes = parseBytes("--read-max-bytes", v["read-max-bytes"]);
  if (v["max-profile-bytes"] !== undefined)
    cfg.limits!.maxProfileBytes = parseBytes("--max-profile-bytes", v["max-profile-bytes"]);
  if (v["max-core-bytes"] !== undefined)
    cfg.limits!.maxCoreBytes = parseBytes("--max-core-bytes", v["max-core-bytes"]);
  if ((v["tls-cert"] === undefined) !== (v["tls-key"] === undefined)) {
    throw usageError("--tls-cert and --tls-key go together");
  }
  if (v["tls-client-ca"] !== undefined && v["tls-cert"] === undefined) {
    throw usageError("--tls-client-ca needs --tls-cert and --tls-key");
  }
  if (v["tls-cert"] !== undefined && v["tls-key"] !== undefined) {
    const read = (flag: string, p: string) => {
      try {
        return readFileSync(p);
      } catch (e) {
        throw new GosymdError("invalid_argument", `${flag}: cannot read ${p}: ${(e as Error).message}`);
      }
    };
    cfg.tls = {
      cert: read("--tls-cert", v["tls-cert"]),
      key: read("--tls-key", v["tls-key"]),
      ...(v["tls-client-ca"] !== undefined ? { clientCa: read("--tls-client-ca", v["tls-client-ca"]) } : {}),
    };
  }
  return cfg;
}

export async function serveCommand(argv: string[]): Promise<number> {
  if (argv.includes("-h") || argv.includes("--help")) {
    process.stdout.write(serveHelp);
    return EXIT.ok;
  }
  let cfg: ReturnType<typeof serveConfig>;
  try {
    cfg = serveConfig(argv);
  } catch (e) {
    return reportError(e, "serve");
  }
  const logger = pino({ level: cfg.logLevel, base: { service: "gosymd", pid: process.pid } });
  const gcFlags = tuneGcForLatency();
  let server: Gosymd;
  let telemetry: Awaited<ReturnType<typeof startTelemetry>>;
  try {
    telemetry = await startTelemetry();
    server = await startGosymd({ ...cfg, logger });
  } catch (e) {
    return reportError(e, "serve");
  }
  logger.info(
    {
      url: server.url,
      port: server.port,
      tls: cfg.tls !== undefined,
      mtls: cfg.tls?.clientCa !== undefined,
      store: cfg.storeDir,
      cacheBytes: cfg.cacheBytes,
      sources: server.sources.map((s) => s.name),
      telemetry: telemetry?.summary ?? "off",
      gc: gcFlags.length > 0 ? gcFlags.join(" ") : "defaults",
    },
    "gosymd listening",
  );
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, "second signal: exiting now");
        logger.flush();
        process.exit(EXIT.failure);
      }
      stopping = true;
      logger.info({ signal, graceMs: cfg.graceMs }, "shutting down: draining in-flight calls");
      await server.close(cfg.graceMs);
      await telemetry?.shutdown().catch(() => undefined);
      logger.info("stopped");
      logger.flush();
      process.off("SIGTERM", onTerm);
      process.off("SIGINT", onInt);
      resolve(EXIT.ok);
    };
    const onTerm = () => void stop("SIGTERM");
    const onInt = () => void stop("SIGINT");
    process.on("SIGTERM", onTerm);
    process.on("SIGINT", onInt);
  });
}
