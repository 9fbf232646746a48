/** Shared set-up for RPC tests: a service over a temp store, in memory or on a real port. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { type Client, createClient, createRouterTransport, type Transport } from "@connectrpc/connect";
import { BinaryCache, type Decoder } from "../../src/cache/binary-cache.js";
import { SymbolizerService, UploadBinaryRequestSchema } from "../../src/gen/gosymd/v1/symbolizer_pb.js";
import { HealthState } from "../../src/rpc/health.js";
import { DEFAULT_LIMITS, type ServiceLimits } from "../../src/rpc/limits.js";
import { registerRoutes, SERVICE_NAMES } from "../../src/rpc/routes.js";
import { LocalStore } from "../../src/sources/store.js";

export function tempDir(prefix = "gosymd-rpc-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface InMemory {
  transport(binary: boolean): Transport;
  client(binary?: boolean): Client<typeof SymbolizerService>;
  cache: BinaryCache;
  store: LocalStore;
  health: HealthState;
  cleanup(): void;
}

export async function inMemoryService(
  opts: { decoder?: Decoder; limits?: Partial<ServiceLimits>; cacheBytes?: number } = {},
): Promise<InMemory> {
  const t = tempDir();
  const store = await LocalStore.open(t.dir);
  const cache = new BinaryCache({
    maxBytes: opts.cacheBytes ?? 256 << 20,
    sources: [store],
    ...(opts.decoder ? { decoder: opts.decoder } : {}),
  });
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const health = new HealthState(SERVICE_NAMES);
  const routes = (r: Parameters<typeof registerRoutes>[0]) =>
    registerRoutes(r, { cache, store, limits, health });
  const transport = (binary: boolean) =>
    createRouterTransport(routes, {
      transport: { useBinaryFormat: binary },
      router: { readMaxBytes: limits.readMaxBytes },
    });
  return {
    transport,
    client: (binary = true) => createClient(SymbolizerService, transport(binary)),
    cache,
    store,
    health,
    cleanup: t.cleanup,
  };
}

/** Streams `bytes` in chunks as an UploadBinary call. */
export async function upload(
  client: Client<typeof SymbolizerService>,
  bytes: Uint8Array,
  opts: { chunk?: number; size?: number; fileName?: string; sha256?: string } = {},
) {
  const chunk = opts.chunk ?? 64 * 1024;
  async function* gen() {
    yield create(UploadBinaryRequestSchema, {
      metadata: {
        fileName: opts.fileName ?? "bin",
        size: BigInt(opts.size ?? bytes.length),
        sha256: opts.sha256 ?? "",
      },
    });
    for (let off = 0; off < bytes.length; off += chunk) {
      yield create(UploadBinaryRequestSchema, { chunk: bytes.subarray(off, off + chunk) });
    }
  }
  return client.uploadBinary(gen());
}
