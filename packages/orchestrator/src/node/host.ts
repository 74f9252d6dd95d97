/**
 * This machine as a scheduling host.
 */
import { availableParallelism, totalmem } from 'node:os';
import type { HostInfo } from '../common/types.js';

/** Memory kept back for the host itself and the daemon, MiB. */
export const HOST_RESERVED_MIB = 1024;

/**
 * This machine: every CPU, its memory minus {@link HOST_RESERVED_MIB}, no GPUs (GPU passthrough is
 * not built), and every runtime class (the provisioner maps each class to what the machine really
 * has, or refuses it with a coded error at create time).
 */
export function localHost(id = 'local'): HostInfo {
  const memoryMiB = Math.max(256, Math.floor(totalmem() / (1024 * 1024)) - HOST_RESERVED_MIB);
  return {
    id,
    cpus: availableParallelism(),
    memoryMiB,
    gpus: 0,
    runtimes: ['container', 'microvm', 'vm'],
  };
}
