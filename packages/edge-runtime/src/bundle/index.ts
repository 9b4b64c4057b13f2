export { canonicalJson } from './canonical-json.ts';
export { generateSigningKeyPair, keyIdOf, parsePrivateKey, parsePublicKey, trustedKeysFrom, type SigningKeyPair, type TrustedKey } from './signing-keys.ts';
export { signManifest, signedBytes, verifyManifestSignature } from './sign-manifest.ts';
export { createBundle, MANIFEST_FILE, type CreateBundleOptions } from './create-bundle.ts';
export { verifyBundle, type VerifiedBundle } from './verify-bundle.ts';
export { readModelFiles, type ModelFiles, type TfjsModelJson } from './bundle-files.ts';
export { BundleError, type BundleRejection } from './bundle-error.ts';
export { packBundle, unpackBundle } from './bundle-archive.ts';
export { validateManifest } from './validate-manifest.ts';
