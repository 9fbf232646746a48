/** The RPC edge: routes, service implementations, message conversion, error → code mapping. */
export { createAttributeHandlers } from "./attribute.js";
export { type BinaryDeps, binaryBytes, loadBinaryRef } from "./binaries.js";
export { type BuildInfoContext, buildInfoContext } from "./context.js";
export { toBinaryInfo, toFrame, toLocation } from "./convert.js";
export {
  fromAttributeOptions,
  fromAttributeResponse,
  toAttributeResponse,
  toCrashAttribution,
  toSimilarity,
} from "./crash-convert.js";
export { clientMessage, codeOf, toConnectError } from "./errors.js";
export { createHealthService, HealthState, ServingStatus } from "./health.js";
export { DEFAULT_LIMITS, type ServiceLimits } from "./limits.js";
export { createProfileHandlers, fromProfileStats, toProfileStats } from "./profile.js";
export { type RawResult, symbolizeRawCrash } from "./raw.js";
export { createReflectionService, createReflectionServiceV1Alpha, DescriptorIndex } from "./reflection.js";
export { type RouteDeps, registerRoutes, SERVICE_NAMES, telemetryInterceptor } from "./routes.js";
export { addressMapper, createSymbolizerService, type SymbolizerDeps } from "./symbolizer.js";
