/**
 * Tracing and metrics through @opentelemetry/api only. Without an SDK installed (see ./sdk.ts)
 * every call here is a cheap no-op; with one, spans and metrics go to the configured exporters.
 */
import { type Attributes, metrics, type Span, SpanStatusCode, trace } from "@opentelemetry/api";

const NAME = "gosymd";

export const tracer = () => trace.getTracer(NAME);

function meter() {
  return metrics.getMeter(NAME);
}

/** The instruments, created lazily so that an SDK registered at startup is picked up. */
class Instruments {
  readonly requests = meter().createCounter("gosymd.rpc.requests", {
    description: "RPCs handled, by method and gRPC code",
  });
  readonly rpcDuration = meter().createHistogram("gosymd.rpc.duration", {
    description: "RPC handling time",
    unit: "ms",
  });
  readonly addresses = meter().createCounter("gosymd.symbolize.addresses", {
    description: "addresses symbolized, by outcome (resolved, unresolved, failed_batch)",
  });
  readonly cacheLookups = meter().createCounter("gosymd.cache.lookups", {
    description: "binary cache lookups, by result (hit, miss, coalesced)",
  });
  readonly cacheEvictions = meter().createCounter("gosymd.cache.evictions", {
    description: "decoded binaries evicted from the cache",
  });
  readonly cacheBytes = meter().createUpDownCounter("gosymd.cache.bytes", {
    description: "bytes of decoded tables held by the cache",
    unit: "By",
  });
  readonly decodeDuration = meter().createHistogram("gosymd.decode.duration", {
    description: "time to decode a binary's tables",
    unit: "ms",
  });
  readonly sourceFetches = meter().createCounter("gosymd.source.fetches", {
    description: "binary lookups in a source, by source and result (found, missing, error, negative_cached)",
  });
  readonly uploadBytes = meter().createCounter("gosymd.upload.bytes", {
    description: "bytes received by UploadBinary",
    unit: "By",
  });
}

let instruments: Instruments | undefined;
export function m(): Instruments {
  instruments ??= new Instruments();
  return instruments;
}
/** Drops the instruments so they are recreated against a newly registered meter provider. */
export function resetInstruments(): void {
  instruments = undefined;
}

/** Runs `fn` in an active span; records the error and ends the span. */
export async function inSpan<T>(name: string, attrs: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, { attributes: attrs }, async (span) => {
    try {
      return await fn(span);
    } catch (e) {
      span.recordException(e as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error)?.message });
      throw e;
    } finally {
      span.end();
    }
  });
}

/** Synchronous variant of inSpan. */
export function inSpanSync<T>(name: string, attrs: Attributes, fn: (span: Span) => T): T {
  return tracer().startActiveSpan(name, { attributes: attrs }, (span) => {
    try {
      return fn(span);
    } catch (e) {
      span.recordException(e as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error)?.message });
      throw e;
    } finally {
      span.end();
    }
  });
}
