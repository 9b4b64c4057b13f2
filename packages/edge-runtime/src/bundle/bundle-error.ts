/** Reason a bundle was rejected. */
export type BundleRejection = 'missing' | 'invalid-manifest' | 'bad-signature' | 'bad-hash' | 'bad-model';

/** Raised when a bundle fails verification. `reason` is machine-readable and the message states what to do. */
export class BundleError extends Error {
  readonly reason: BundleRejection;
  constructor(reason: BundleRejection, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BundleError';
    this.reason = reason;
  }
}
