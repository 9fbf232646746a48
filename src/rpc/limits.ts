/** Service limits; each is enforced with RESOURCE_EXHAUSTED and a message naming the limit. */
export interface ServiceLimits {
  /** Largest request message (bytes) a handler reads (connect's readMaxBytes). */
  readMaxBytes: number;
  /** Most addresses in one Symbolize request (all batches); also most PCs in one Attribute request. */
  maxAddressesPerRequest: number;
  /** Most batches in one Symbolize request. */
  maxBatchesPerRequest: number;
  /** Largest binary accepted by UploadBinary. */
  maxUploadBytes: number;
  /** Largest inline BinaryRef.contents. */
  maxInlineBytes: number;
  /**
   * Largest profile accepted by SymbolizeProfile, as sent (gzipped or not). SymbolizeProfile's
   * message limit is raised to this when it is above readMaxBytes.
   */
  maxProfileBytes: number;
  /** Largest profile after inflating a gzipped one. */
  maxInflatedProfileBytes: number;
  /** Largest core file accepted by AttributeCore (spooled to disk, never held in memory). */
  maxCoreBytes: number;
  /** Most goroutines in one Attribute request's raw crash. */
  maxRawGoroutines: number;
  /** Most AttributeCore streams at once (each may spool up to maxCoreBytes to disk). */
  maxConcurrentCores: number;
}

export const DEFAULT_LIMITS: ServiceLimits = {
  readMaxBytes: 64 * 1024 * 1024,
  maxAddressesPerRequest: 1_000_000,
  maxBatchesPerRequest: 1_000,
  maxUploadBytes: 2 * 1024 * 1024 * 1024,
  maxInlineBytes: 32 * 1024 * 1024,
  maxProfileBytes: 64 * 1024 * 1024,
  maxInflatedProfileBytes: 512 * 1024 * 1024,
  maxCoreBytes: 4 * 1024 * 1024 * 1024,
  maxRawGoroutines: 100_000,
  maxConcurrentCores: 4,
};
