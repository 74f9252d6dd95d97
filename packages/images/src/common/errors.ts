/**
 * The closed set of error codes of the images package. Each carries a hint saying what to do.
 */
import { defineErrors } from '@virtos/core';

/** Errors raised while building, mounting, listing or verifying image layers. */
export const ImageErrors = defineErrors('images', {
  /** The distro's builder tool or mirror is not usable on this machine. */
  unavailable: 'unavailable',
  /** A host tool the build needs (mmdebstrap, dpkg-query, mount) is not installed. */
  tool_missing: 'unavailable',
  /** The package mirror could not be reached or did not answer. */
  mirror_unreachable: 'unavailable',
  /** The cache file system ran out of space. */
  no_space: 'resource_exhausted',
  /** The operation needs root (mount, chroot, mmdebstrap root mode). */
  not_root: 'permission_denied',
  /** The builder ran but failed (package not found, maintainer script failed...). */
  build_failed: 'internal',
  /** A request is malformed (empty release, bad package name). */
  invalid_request: 'invalid_argument',
  /** No layer with that id is in the cache. */
  not_found: 'not_found',
  /** Mounting or unmounting a root file system failed. */
  mount_failed: 'internal',
});
