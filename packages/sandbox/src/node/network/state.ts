/**
 * Records of what the manager created, one JSON file per environment under
 * `<stateDir>/network/<short>.json`. A record is written BEFORE the first kernel object exists and
 * updated as objects are added, so after a crash `cleanupLeftovers` knows exactly what to remove
 * and never has to guess from names (other daemons or tests may own other `virtos-` objects).
 * Records hold ids, kernel names and the network policy in force (the allowlist and peer names the
 * environment was set up with: user data), never environment names; keep `stateDir` on a tmpfs
 * such as /run (root-only, RAM), which is cleared together with the kernel objects on reboot.
 */
import { mkdir, readFile, readdir, rm, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

import type { NetworkMode } from '@virtos/spec';

/** What one environment owns on this host. */
export interface AttachmentRecord {
  readonly version: 1;
  readonly id: string;
  readonly short: string;
  readonly mode: NetworkMode;
  readonly netns: string;
  /** Directory holding resolv.conf and hosts. */
  readonly dir: string;
  hostVeth?: string;
  hostTable?: string;
  /** Reservation file of the uplink slot. */
  slotFile?: string;
  /** True when this environment's setup enabled IPv4 forwarding needs (internet mode). */
  usesForwarding?: boolean;
  /**
   * The `network.allow` list in force (allowlist mode), as set up. Adoption enforces this one, not
   * the registry's desired spec: a changed network applies only when the environment restarts.
   */
  allow?: readonly string[];
  /** The `network.peers` names in force, as set up (peer links made after an adoption use them). */
  peers?: readonly string[];
}

/** The directory of records. */
export function recordsDir(stateDir: string): string {
  return join(stateDir, 'network');
}

/** Writes a record atomically (temp file + rename). */
export async function writeRecord(stateDir: string, record: AttachmentRecord): Promise<void> {
  const dir = recordsDir(stateDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${record.short}.json`);
  const tmp = `${file}.tmp`;
  await writeFile(tmp, JSON.stringify(record, null, 2), { mode: 0o600 });
  await rename(tmp, file);
}

/** Removes a record (no error when absent). */
export async function removeRecord(stateDir: string, short: string): Promise<void> {
  await rm(join(recordsDir(stateDir), `${short}.json`), { force: true });
}

/** Reads every record; unreadable files are skipped (they are reported by the caller's logger). */
export async function readRecords(stateDir: string): Promise<AttachmentRecord[]> {
  let names: string[];
  try {
    names = await readdir(recordsDir(stateDir));
  } catch {
    return [];
  }
  const out: AttachmentRecord[] = [];
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    try {
      const data = JSON.parse(await readFile(join(recordsDir(stateDir), name), 'utf8')) as unknown;
      if (isRecord(data)) out.push(data);
    } catch {
      // A half-written temp file or foreign file: ignore.
    }
  }
  return out;
}

function isRecord(v: unknown): v is AttachmentRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    r.version === 1 &&
    typeof r.id === 'string' &&
    typeof r.short === 'string' &&
    typeof r.netns === 'string' &&
    typeof r.dir === 'string'
  );
}
