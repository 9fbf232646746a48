/**
 * pprof profile symbolization: fill Function and Line entries of a profile.proto whose locations
 * are bare addresses, from the Go binaries its mappings' build IDs name.
 */
export type { ProfileLimits } from "./decode.js";
export { DEFAULT_PROFILE_LIMITS } from "./decode.js";
export { isGzip } from "./gzip.js";
export type { LoadSegment } from "./normalize.js";
export { AddressMapper, NOT_MAPPED } from "./normalize.js";
export type {
  MappingStats,
  PreparedProfile,
  ProfileBinary,
  ProfileMapping,
  ProfileStats,
  ResolveBinary,
  SymbolizeProfileOptions,
  SymbolizeProfileResult,
} from "./symbolize.js";
export {
  DEFAULT_MAX_PROFILE_BYTES,
  inflateProfile,
  prepareProfile,
  symbolizeProfile,
  symbolizeProfileTo,
} from "./symbolize.js";
