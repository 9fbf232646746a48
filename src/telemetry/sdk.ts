/**
 * Wires the OpenTelemetry SDK when the standard OTEL_* environment variables ask for it:
 *   OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER (otlp, prometheus, console, none),
 *   OTEL_EXPORTER_OTLP_ENDPOINT (+ _PROTOCOL, _HEADERS...), OTEL_SERVICE_NAME,
 *   OTEL_EXPORTER_PROMETHEUS_HOST / _PORT for the Prometheus scrape endpoint (default :9464).
 * Nothing is loaded when none of them is set (the API stays a no-op).
 */
import { resetInstruments } from "./index.js";

export interface TelemetryHandle {
  shutdown(): Promise<void>;
  /** What was enabled, for the startup log. */
  readonly summary: string;
}

export function telemetryRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED === "true") return false;
  return Object.keys(env).some(
    (k) =>
      k === "OTEL_TRACES_EXPORTER" ||
      k === "OTEL_METRICS_EXPORTER" ||
      k === "OTEL_LOGS_EXPORTER" ||
      k.startsWith("OTEL_EXPORTER_OTLP_"),
  );
}

export async function startTelemetry(
  env: NodeJS.ProcessEnv = process.env,
): Promise<TelemetryHandle | undefined> {
  if (!telemetryRequested(env)) return undefined;
  env.OTEL_SERVICE_NAME ??= "gosymd";
  // Only our own spans and metrics: no auto-instrumentation packages are loaded.
  const { NodeSDK } = await import("@opentelemetry/sdk-node");
  const sdk = new NodeSDK({ instrumentations: [] });
  sdk.start();
  resetInstruments();
  const summary = `traces=${env.OTEL_TRACES_EXPORTER ?? "otlp"} metrics=${env.OTEL_METRICS_EXPORTER ?? "otlp"}`;
  return {
    summary,
    shutdown: () => sdk.shutdown(),
  };
}
