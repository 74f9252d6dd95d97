/**
 * @module @virtos/images
 * Content-addressed root file system layers built from distro packages (a base layer per distro and
 * release, a desktop layer, an apps layer per package set), the cache that holds them, overlay
 * mounts with a RAM-backed writable layer, and a warm pool of ready mounts. See docs/images.md.
 */
export { ImageErrors } from './common/errors.js';
export { DESKTOP_PACKAGES, imageRequestFromSpec } from './common/request.js';
export {
  DPKG_QUERY_FORMAT,
  packagesAdded,
  parseDpkgQuery,
  parseManifest,
} from './common/manifest.js';
export { newProgressState, parseAptSize, parseProgressLine } from './common/progress.js';
export type { ProgressState } from './common/progress.js';
export type {
  BuildProgress,
  EnsureOptions,
  ImageRequest,
  ImageStore,
  LayerInfo,
  LayerKind,
  LayerManifest,
  LayerOutcome,
  LayerPackage,
  PruneOptions,
  ResolvedImage,
  VerifyResult,
} from './common/types.js';
export { LAYER_FORMAT, computeLayerId, normalizePackages, shortId } from './node/layer-id.js';
export type { LayerInputs } from './node/layer-id.js';
export { nodeExec } from './node/exec.js';
export type { Exec, ExecOptions, ExecResult } from './node/exec.js';
export {
  ApkBuilder,
  DESKTOP_USER,
  DnfBuilder,
  MmdebstrapBuilder,
  PacstrapBuilder,
  builderKindFor,
  defaultBuilders,
  mirrorHost,
  tcpMirrorProbe,
} from './node/builders.js';
export type { BaseBuildParams, DistroBuilder, MirrorProbe } from './node/builders.js';
export { createImageStore } from './node/store.js';
export type { ImageStoreOptions } from './node/store.js';
export { MAX_WRITABLE_MIB, mountRootfs, unmountRootfs } from './node/mount.js';
export type { MountRootfsOptions, MountedRootfs } from './node/mount.js';
export { mountsUnder, parseMountInfo, readMounts } from './node/mountinfo.js';
export type { MountEntry } from './node/mountinfo.js';
export { hashTree } from './node/tree-hash.js';
export type { TreeStats } from './node/tree-hash.js';
export { WarmPool } from './node/pool.js';
export type { Mounter, WarmPoolEntryOptions, WarmPoolOptions, WarmPoolStats } from './node/pool.js';
