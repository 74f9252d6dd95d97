/**
 * Checks a vault file's outer shape before SQLite touches it, so that a missing, empty, truncated or
 * foreign file is refused with a precise message instead of a generic SQLite error.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { APPLICATION_ID } from '../internal/format.js';
import { VaultErrors } from '../errors.js';

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

function journalIsHot(path: string): boolean {
  try {
    return statSync(`${path}-journal`).size > 0;
  } catch {
    return false;
  }
}

/** Throws a coded error unless `path` looks like a complete vault file. */
export function checkVaultFile(path: string): void {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) {
      throw VaultErrors.create('foreign_file', `${path} is not a regular file.`, { subject: path });
    }
    size = st.size;
  } catch (e) {
    if (VaultErrors.is(e)) throw e;
    throw VaultErrors.create('not_found', `No vault at ${path}.`, {
      subject: path,
      hint: 'Create one with `virtos vault init`, or pass --vault PATH.',
      cause: e,
    });
  }
  const head = Buffer.alloc(100);
  const fd = openSync(path, 'r');
  let n: number;
  try {
    n = readSync(fd, head, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  const truncated = (why: string) =>
    VaultErrors.create('truncated', `${path} is truncated: ${why}.`, {
      subject: path,
      hint: 'Restore the vault from a transfer copy (virtos vault import).',
      details: { bytes: size },
    });
  if (n < 100) {
    if (
      size === 0 ||
      SQLITE_MAGIC.subarray(0, Math.min(n, 16)).equals(head.subarray(0, Math.min(n, 16)))
    ) {
      throw truncated(`${size} bytes, shorter than any vault`);
    }
    throw VaultErrors.create('foreign_file', `${path} is not a VirtOS vault.`, { subject: path });
  }
  if (!head.subarray(0, 16).equals(SQLITE_MAGIC)) {
    throw VaultErrors.create('foreign_file', `${path} is not a VirtOS vault (unknown file type).`, {
      subject: path,
      hint: 'Check the path; a vault file is made by `virtos vault init`.',
    });
  }
  if (head.readUInt32BE(68) !== APPLICATION_ID) {
    throw VaultErrors.create('foreign_file', `${path} is an SQLite database, not a VirtOS vault.`, {
      subject: path,
      hint: 'Check the path; a vault file is made by `virtos vault init`.',
    });
  }
  const rawPage = head.readUInt16BE(16);
  const pageSize = rawPage === 1 ? 65536 : rawPage;
  const pages = head.readUInt32BE(28);
  const sizeValid = head.readUInt32BE(92) === head.readUInt32BE(24);
  // A crash leaves a hot rollback journal; SQLite repairs the file from it on open, so the size may
  // legitimately differ until then.
  if (!journalIsHot(path)) {
    if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) {
      throw VaultErrors.create('corrupt', `${path} has a damaged file header (page size).`, {
        subject: path,
        details: { region: 'container' },
      });
    }
    if (sizeValid && pages * pageSize > size) {
      throw truncated(`${size} bytes, but its header counts ${pages} pages of ${pageSize} bytes`);
    }
    if (size % pageSize !== 0) {
      if (sizeValid && size > pages * pageSize) {
        throw VaultErrors.create(
          'corrupt',
          `${path} has ${size - pages * pageSize} unexpected bytes after its end.`,
          {
            subject: path,
            details: { region: 'container' },
            hint: 'Something appended data to the file. Restore it from a transfer copy.',
          },
        );
      }
      throw truncated(`${size} bytes is not a whole number of ${pageSize}-byte pages`);
    }
  }
}
