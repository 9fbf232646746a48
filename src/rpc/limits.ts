/** Service limits; each is enforced with RESOURCE_EXHAUSTED and a message naming the limit. */
export interface ServiceLimits {
  /** Largest request message (bytes) a handler reads (connect's readMaxBytes). */
  readMaxBytes: number;
  /** Most addresses in one Symbolize request (all batches). */
  maxAddressesPerRequest: number;
  /** Most batches in one Symbolize request. */
  maxBatchesPerRequest: number;
  /** Largest binary accepted by UploadBinary. */
  maxUploadBytes: number;
  /** Largest inline BinaryRef.contents. */
  maxInlineBytes: number;
}

export const DEFAULT_LIMITS: ServiceLimits = {
  readMaxBytes: 64 * 1024 * 1024,
  maxAddressesPerRequest: 1_000_000,
  maxBatchesPerRequest: 1_000,
  maxUploadBytes: 2 * 1024 * 1024 * 1024,
  maxInlineBytes: 32 * 1024 * 1024,
};
