/**
 * The tree hash of a layer: one sha256 over every entry's relative path, type, permission bits,
 * owner, and content (file bytes, link target or device number), in byte order of paths. Two trees
 * with the same hash look the same to a process running on them. Extended attributes are not
 * included (overlay's opaque-directory marker among them): a known, documented gap.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { throwIfAborted } from '@virtos/core';

/** Totals computed while hashing a tree. */
export interface TreeStats {
  /** sha256 hex of the whole tree. */
  readonly treeHash: string;
  /** Apparent bytes of regular files (hard links counted once) and symlink targets. */
  readonly sizeBytes: number;
  /** Entries seen, the root excluded. */
  readonly entries: number;
}

/** Files at most this large are read in one go; larger ones are streamed. Bytes. */
const SMALL_FILE = 1 << 20;

function typeOf(st: Awaited<ReturnType<typeof lstat>>): string {
  if (st.isFile()) return 'f';
  if (st.isDirectory()) return 'd';
  if (st.isSymbolicLink()) return 'l';
  if (st.isCharacterDevice()) return 'c';
  if (st.isBlockDevice()) return 'b';
  if (st.isFIFO()) return 'p';
  return 's';
}

async function hashFile(path: string, size: number): Promise<string> {
  const h = createHash('sha256');
  if (size <= SMALL_FILE) {
    h.update(await readFile(path));
  } else {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      h.update(chunk as Buffer);
    }
  }
  return h.digest('hex');
}

/** Hashes the tree under `root` (the root directory's own mode is part of it). */
export async function hashTree(root: string, signal?: AbortSignal): Promise<TreeStats> {
  const total: Hash = createHash('sha256');
  let sizeBytes = 0;
  let entries = 0;
  const seenLinks = new Map<string, string>();
  const visit = async (rel: string): Promise<void> => {
    const abs = rel === '' ? root : join(root, rel);
    const st = await lstat(abs);
    const type = typeOf(st);
    let content = '';
    if (type === 'f') {
      // Hard links share their bytes: read and count them once.
      const ino = `${st.dev}:${st.ino}`;
      let digest = st.nlink > 1 ? seenLinks.get(ino) : undefined;
      if (digest === undefined) {
        digest = await hashFile(abs, st.size);
        sizeBytes += st.size;
        if (st.nlink > 1) seenLinks.set(ino, digest);
      }
      content = `${st.size}:${digest}`;
    } else if (type === 'l') {
      const target = await readlink(abs);
      content = target;
      sizeBytes += Buffer.byteLength(target);
    } else if (type === 'c' || type === 'b') {
      content = String(st.rdev);
    }
    total.update(
      `${rel}\0${type}\0${(st.mode & 0o7777).toString(8)}\0${st.uid}\0${st.gid}\0${content}\n`,
    );
    if (rel !== '') entries += 1;
    if (type !== 'd') return;
    if (entries % 512 === 0) throwIfAborted(signal, 'tree hash');
    const names = (await readdir(abs)).sort((a, b) =>
      Buffer.compare(Buffer.from(a), Buffer.from(b)),
    );
    for (const name of names) await visit(rel === '' ? name : `${rel}/${name}`);
  };
  await visit('');
  return { treeHash: total.digest('hex'), sizeBytes, entries };
}
