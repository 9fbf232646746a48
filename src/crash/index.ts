/** Crash attribution from Go crash text (and from goroutines of other sources). */
export {
  type AttributeOptions,
  attributeGoroutines,
  attributeText,
  type HeaderInfo,
  primaryIndex,
} from "./attribute.js";
export { bucketize, goroutineKey } from "./bucket.js";
export {
  categorize,
  categorizePanic,
  classify,
  goVersionRange,
  markCrashed,
  messageTemplate,
} from "./classify.js";
export {
  blameIndex,
  isCandidate,
  isInApp,
  isSkippable,
  locate,
  pickCulprit,
  revisionOfVersion,
} from "./culprit.js";
export { FINGERPRINT_VERSION, fingerprint, fingerprintInputs, fingerprintOf } from "./fingerprint.js";
export { isStdlibPackage, normalizeFunction, packageOf } from "./funcname.js";
export { type CrashLimits, DEFAULT_CRASH_LIMITS } from "./limits.js";
export { type ParseOptions, parseCrashText } from "./parse.js";
export { renderCrash, renderReport } from "./report.js";
export { applyRules, CATEGORY_ADVICE, ownersOf, parseOwners, parseRules, type RuleSet } from "./rules.js";
export type * from "./types.js";
