/**
 * Secure transfer: a consistent copy of the (already encrypted) vault file plus a manifest with its
 * SHA-256, the vault id, the chain head and the time, and a short fingerprint people
 * compare by eye on both machines.
 */
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  fsyncSync,
  openSync,
  closeSync,
  readFileSync,
  renameSync,
  copyFileSync,
  mkdirSync,
  rmSync,
  writeFileSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { VaultErrors } from '../errors.js';
import { Vault } from './vault.js';

/** The manifest written next to a transfer copy (`<file>.manifest.json`). */
export interface TransferManifest {
  readonly format: 'virtos-vault-transfer/1';
  /** The copy's file name (no directory). */
  readonly file: string;
  /** Size in bytes. */
  readonly bytes: number;
  /** SHA-256 of the copy, hex. */
  readonly sha256: string;
  readonly vaultId: string;
  readonly chainCounter: number;
  /** The chain head, hex. */
  readonly chainHead: string;
  /** ISO 8601. */
  readonly createdAt: string;
}

/** What export and import report. */
export interface TransferResult {
  readonly path: string;
  readonly manifestPath: string;
  readonly manifest: TransferManifest;
  /** 5 groups of 4 hex digits, to compare on both machines. */
  readonly fingerprint: string;
}

/** The manifest's path for a transfer copy at `path`. */
export function manifestPathFor(path: string): string {
  return `${path}.manifest.json`;
}

/** The human fingerprint of a manifest: the first 80 bits of SHA-256 over its canonical JSON. */
export function fingerprintOf(m: TransferManifest): string {
  const canonical = JSON.stringify(m, Object.keys(m).sort());
  const h = createHash('sha256').update(canonical).digest('hex').slice(0, 20);
  return h.match(/.{4}/g)!.join('-');
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes a transfer copy of the open `vault` to `dest` and its manifest. Needs no key. */
export async function exportVault(
  vault: Vault,
  dest: string,
  now: Date = new Date(),
): Promise<TransferResult> {
  if (existsSync(dest)) {
    throw VaultErrors.create('already_exists', `${dest} already exists.`, { subject: dest });
  }
  const tmp = join(dirname(dest), `.${basename(dest)}.partial`);
  rmSync(tmp, { force: true });
  // SECURITY: SQLite's online backup copies pages as stored: ciphertext and public metadata only.
  await vault.backupTo(tmp);
  fsyncPath(tmp);
  renameSync(tmp, dest);
  const copy = Vault.open(dest);
  const status = copy.status();
  const head = copy.anchor().head;
  copy.close();
  const manifest: TransferManifest = {
    format: 'virtos-vault-transfer/1',
    file: basename(dest),
    bytes: statSync(dest).size,
    sha256: await sha256File(dest),
    vaultId: status.vaultId,
    chainCounter: status.counter,
    chainHead: head,
    createdAt: now.toISOString(),
  };
  const manifestPath = manifestPathFor(dest);
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  return { path: dest, manifestPath, manifest, fingerprint: fingerprintOf(manifest) };
}

function mismatch(what: string, src: string) {
  return VaultErrors.create(
    'manifest_mismatch',
    `The transfer copy ${src} does not match its manifest: ${what}.`,
    {
      subject: src,
      hint: 'The copy is damaged or was altered in transit. Export it again on the source machine.',
    },
  );
}

/**
 * Verifies a transfer copy against its manifest (size, SHA-256, vault id, chain head) and installs
 * it at `dest` atomically. Refuses any mismatch, and an existing `dest` unless `replace`.
 */
export async function importVault(
  src: string,
  dest: string,
  opts: { replace?: boolean } = {},
): Promise<TransferResult> {
  const manifestPath = manifestPathFor(src);
  let manifest: TransferManifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as TransferManifest;
  } catch (e) {
    throw VaultErrors.create('manifest_mismatch', `No readable manifest at ${manifestPath}.`, {
      subject: manifestPath,
      hint: 'Copy the .manifest.json made by `virtos vault export` next to the file.',
      cause: e,
    });
  }
  if (manifest.format !== 'virtos-vault-transfer/1') throw mismatch('unknown manifest format', src);
  if (!existsSync(src))
    throw VaultErrors.create('not_found', `No transfer copy at ${src}.`, { subject: src });
  if (statSync(src).size !== manifest.bytes)
    throw mismatch(`size ${statSync(src).size} != ${manifest.bytes}`, src);
  if ((await sha256File(src)) !== manifest.sha256) throw mismatch('SHA-256 differs', src);
  const v = Vault.open(src);
  const st = v.status();
  const head = v.anchor().head;
  v.close();
  if (st.vaultId !== manifest.vaultId) throw mismatch('vault id differs', src);
  if (st.counter !== manifest.chainCounter || head !== manifest.chainHead)
    throw mismatch('chain head differs', src);
  if (existsSync(dest) && opts.replace !== true) {
    throw VaultErrors.create('already_exists', `A vault already exists at ${dest}.`, {
      subject: dest,
      hint: 'Pass --replace to overwrite it (export it first if unsure), or --vault to choose another path.',
    });
  }
  mkdirSync(dirname(dest), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(dest), `.${basename(dest)}.importing`);
  copyFileSync(src, tmp);
  fsyncPath(tmp);
  renameSync(tmp, dest);
  return { path: dest, manifestPath, manifest, fingerprint: fingerprintOf(manifest) };
}
