/**
 * The on-disk format (version 1): an SQLite file whose tables hold a plaintext but authenticated
 * header and key slots, and per-record sealed objects, file chunks and the integrity chain.
 * docs/vault-format.md describes it; this module holds the constants and canonical encodings.
 */
import { hash } from './crypto.js';

/** The format version this build writes and the newest it reads. */
export const FORMAT_VERSION = 1;
/** The header's magic string. */
export const MAGIC = 'VirtOS vault';
/** SQLite `application_id` of a vault ("VtOS"), checked before SQLite opens the file. */
export const APPLICATION_ID = 0x56744f53;
/** Plaintext bytes per file chunk (1 MiB). */
export const CHUNK_BYTES = 1024 * 1024;

/** The schema of format 1. */
export const SCHEMA_SQL = `
CREATE TABLE vault_header (
  k INTEGER PRIMARY KEY CHECK (k = 1), magic TEXT NOT NULL, format INTEGER NOT NULL,
  vault_id TEXT NOT NULL, created_at INTEGER NOT NULL, counter INTEGER NOT NULL, head BLOB NOT NULL,
  slots_digest BLOB NOT NULL, mac BLOB NOT NULL, checksum BLOB NOT NULL);
CREATE TABLE key_slots (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, label TEXT NOT NULL, created_at INTEGER NOT NULL,
  params TEXT NOT NULL, salt BLOB NOT NULL, wrapped BLOB NOT NULL, checksum BLOB NOT NULL);
CREATE TABLE objects (id BLOB PRIMARY KEY, coll BLOB NOT NULL, seq INTEGER NOT NULL, ct BLOB NOT NULL);
CREATE INDEX objects_by_coll ON objects (coll);
CREATE TABLE chunks (
  file BLOB NOT NULL, idx INTEGER NOT NULL, seq INTEGER NOT NULL, ct BLOB NOT NULL,
  PRIMARY KEY (file, idx));
CREATE TABLE chain (
  counter INTEGER PRIMARY KEY, at INTEGER NOT NULL, prev BLOB NOT NULL, changes BLOB NOT NULL,
  head BLOB NOT NULL);
`;

/** A canonical, length-prefixed binary encoding, so that no two field lists encode alike. */
export class ByteWriter {
  private parts: Buffer[] = [];
  u8(n: number): this {
    this.parts.push(Buffer.from([n & 0xff]));
    return this;
  }
  u32(n: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(n >>> 0);
    this.parts.push(b);
    return this;
  }
  u64(n: number): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(BigInt(n));
    this.parts.push(b);
    return this;
  }
  bytes(b: Uint8Array): this {
    this.u32(b.length);
    this.parts.push(Buffer.from(b));
    return this;
  }
  str(s: string): this {
    return this.bytes(Buffer.from(s, 'utf8'));
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** The header row as stored. */
export interface HeaderRow {
  magic: string;
  format: number;
  vault_id: string;
  created_at: number;
  counter: number;
  head: Buffer;
  slots_digest: Buffer;
  mac: Buffer;
  checksum: Buffer;
}

/** The header fields covered by the MAC. */
export function headerMacInput(h: Omit<HeaderRow, 'mac' | 'checksum'>): Buffer {
  return new ByteWriter()
    .str('vtos1/header')
    .str(h.magic)
    .u32(h.format)
    .str(h.vault_id)
    .u64(h.created_at)
    .u64(h.counter)
    .bytes(h.head)
    .bytes(h.slots_digest)
    .done();
}

/** The unkeyed checksum of the header: tells accidental damage from a wrong key before unlocking. */
export function headerChecksum(h: Omit<HeaderRow, 'checksum'>): Buffer {
  return hash([headerMacInput(h), h.mac]);
}

/** A key slot row as stored. */
export interface SlotRow {
  id: string;
  kind: string;
  label: string;
  created_at: number;
  params: string;
  salt: Buffer;
  wrapped: Buffer;
  checksum: Buffer;
}

/** The canonical bytes of a slot (also its associated data when wrapping the data key). */
export function slotBytes(vaultId: string, s: Omit<SlotRow, 'checksum' | 'wrapped'>): Buffer {
  return new ByteWriter()
    .str('vtos1/slot')
    .str(vaultId)
    .str(s.id)
    .str(s.kind)
    .str(s.label)
    .u64(s.created_at)
    .str(s.params)
    .bytes(s.salt)
    .done();
}

/** The unkeyed checksum of a slot row, including its wrapped key. */
export function slotChecksum(vaultId: string, s: Omit<SlotRow, 'checksum'>): Buffer {
  return hash([slotBytes(vaultId, s), s.wrapped]);
}

/** The digest of all slots (sorted by id), as the header MAC covers it. */
export function slotsDigest(vaultId: string, slots: readonly Omit<SlotRow, 'checksum'>[]): Buffer {
  const sorted = [...slots].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return hash([
    Buffer.from('vtos1/slots'),
    ...sorted.map((s) => hash([slotBytes(vaultId, s), s.wrapped])),
  ]);
}

/**
 * Size bucket for a sealed payload of `n` bytes: powers of two from 256 B to 64 KiB, then multiples
 * of 64 KiB. Hides exact sizes; costs at most 2x for small and ~6 % for large records.
 */
export function paddedSize(n: number): number {
  if (n <= 256) return 256;
  if (n <= 65536) return 2 ** Math.ceil(Math.log2(n));
  return Math.ceil(n / 65536) * 65536;
}

/** 4-byte big-endian length, the data, then zeros up to the bucket size. */
export function pad(data: Uint8Array): Buffer {
  const total = paddedSize(data.length + 4);
  const out = Buffer.alloc(total);
  out.writeUInt32BE(data.length, 0);
  out.set(data, 4);
  return out;
}

/** Reverses {@link pad}; undefined when the length prefix is impossible. */
export function unpad(padded: Buffer): Buffer | undefined {
  if (padded.length < 4) return undefined;
  const n = padded.readUInt32BE(0);
  if (n > padded.length - 4) return undefined;
  return padded.subarray(4, 4 + n);
}

/** Which table a chain change touched. */
export const TABLE_OBJECTS = 1;
/** Which table a chain change touched. */
export const TABLE_CHUNKS = 2;

/** One row change recorded in the chain. */
export interface ChainChange {
  table: number;
  id: Buffer;
  idx: number;
  /** The hash of the new sealed bytes, or undefined for a deletion. */
  ctHash: Buffer | undefined;
}

/** Encodes the changes of one commit. */
export function encodeChanges(changes: readonly ChainChange[]): Buffer {
  const w = new ByteWriter().u32(changes.length);
  for (const c of changes) {
    w.u8(c.table)
      .bytes(c.id)
      .u32(c.idx)
      .u8(c.ctHash ? 1 : 0);
    if (c.ctHash) w.bytes(c.ctHash);
  }
  return w.done();
}

/** Decodes {@link encodeChanges}; undefined if malformed. */
export function decodeChanges(buf: Buffer): ChainChange[] | undefined {
  try {
    let o = 0;
    const u32 = () => {
      const v = buf.readUInt32BE(o);
      o += 4;
      return v;
    };
    const bytes = () => {
      const n = u32();
      if (o + n > buf.length) throw new Error('short');
      const b = buf.subarray(o, o + n);
      o += n;
      return b;
    };
    const n = u32();
    if (n > buf.length) return undefined;
    const out: ChainChange[] = [];
    for (let i = 0; i < n; i++) {
      const table = buf.readUInt8(o++);
      const id = bytes();
      const idx = u32();
      const put = buf.readUInt8(o++);
      out.push({ table, id, idx, ctHash: put ? bytes() : undefined });
    }
    return o === buf.length ? out : undefined;
  } catch {
    return undefined;
  }
}
