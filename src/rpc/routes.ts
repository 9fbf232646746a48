/**
 * Registers every service on a ConnectRouter. The server (src/server.ts) owns transport, TLS and
 * shutdown; tests drive these routes in memory (createRouterTransport) or over a real server.
 */
import { ConnectError, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { Logger } from "pino";
import { file_gosymd_v1_symbolizer, SymbolizerService } from "../gen/gosymd/v1/symbolizer_pb.js";
import { file_grpc_health_v1_health, Health } from "../gen/grpc/health/v1/health_pb.js";
import {
  file_grpc_reflection_v1_reflection,
  ServerReflection,
} from "../gen/grpc/reflection/v1/reflection_pb.js";
import {
  file_grpc_reflection_v1alpha_reflection,
  ServerReflection as ServerReflectionV1Alpha,
} from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { m, tracer } from "../telemetry/index.js";
import { createHealthService, type HealthState } from "./health.js";
import { createReflectionService, createReflectionServiceV1Alpha, DescriptorIndex } from "./reflection.js";
import { createSymbolizerService, type SymbolizerDeps } from "./symbolizer.js";

export const SERVICE_NAMES = [
  SymbolizerService.typeName,
  Health.typeName,
  ServerReflection.typeName,
  ServerReflectionV1Alpha.typeName,
] as const;

export interface RouteDeps extends SymbolizerDeps {
  health: HealthState;
}

export function registerRoutes(router: ConnectRouter, deps: RouteDeps): void {
  // Method by method, so SymbolizeProfile may read messages as large as the profile limit.
  const impl = createSymbolizerService(deps) as Record<string, unknown>;
  const profileReadMax = Math.min(
    0xffffffff,
    Math.max(deps.limits.readMaxBytes, deps.limits.maxProfileBytes + 64 * 1024),
  );
  for (const method of SymbolizerService.methods) {
    const opts =
      method === SymbolizerService.method.symbolizeProfile ? { readMaxBytes: profileReadMax } : undefined;
    router.rpc(method as never, impl[method.localName] as never, opts);
  }
  router.service(Health, createHealthService(deps.health));
  const index = new DescriptorIndex(
    [
      file_gosymd_v1_symbolizer,
      file_grpc_health_v1_health,
      file_grpc_reflection_v1_reflection,
      file_grpc_reflection_v1alpha_reflection,
    ],
    SERVICE_NAMES,
  );
  router.service(ServerReflection, createReflectionService(index));
  router.service(ServerReflectionV1Alpha, createReflectionServiceV1Alpha(index));
}

/** A span, a request counter and a duration histogram per RPC; errors logged with their cause. */
export function telemetryInterceptor(logger?: Logger): Interceptor {
  return (next) => (req) => observeRpc(req.service.typeName, req.method.name, logger, () => next(req));
}

/**
 * Runs one RPC's handler `fn` inside its span, counting and timing it and logging failures: the
 * telemetry of every RPC, whether connect or the direct gRPC path (grpc-unary.ts) serves it.
 */
export function observeRpc<T>(
  service: string,
  method: string,
  logger: Logger | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  const rpc = `${service}/${method}`;
  const t0 = performance.now();
  return tracer().startActiveSpan(
    rpc,
    {
      kind: SpanKind.SERVER,
      attributes: { "rpc.system": "grpc", "rpc.service": service, "rpc.method": method },
    },
    async (span) => {
      let code = "OK";
      try {
        return await fn();
      } catch (e) {
        const ce = ConnectError.from(e);
        code = String(ce.code);
        span.setStatus({ code: SpanStatusCode.ERROR, message: ce.message });
        span.setAttribute("rpc.grpc.status_code", ce.code);
        if (logger) {
          const level = ce.code === 13 /* internal */ ? "error" : "info";
          logger[level]({ rpc, code: ce.code, err: ce.cause ?? ce, msg: ce.rawMessage }, "rpc failed");
        }
        throw e;
      } finally {
        const ms = performance.now() - t0;
        m().requests.add(1, { rpc, code });
        m().rpcDuration.record(ms, { rpc });
        span.end();
      }
    },
  );
}
