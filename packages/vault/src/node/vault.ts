/**
 * The vault: one SQLite file holding a plaintext but authenticated header and key slots, and
 * per-record sealed objects, file chunks and the integrity chain. See docs/vault-format.md.
 */
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3-multiple-ciphers';
import { Emitter, newId, systemClock, type Clock, type Disposable, type Event } from '@virtos/core';
import { VaultErrors } from '../errors.js';
import {
  argon2id,
  deriveSubkey,
  equalBytes,
  hash,
  hkdfSha256,
  NONCE_BYTES,
  open,
  PWHASH_SALT_BYTES,
  TAG_BYTES,
  randomBytes,
  randomKey,
  seal,
  secureAlloc,
  wipe,
  type SecretKey,
} from '../internal/crypto.js';
import {
  APPLICATION_ID,
  ByteWriter,
  CHUNK_BYTES,
  decodeChanges,
  encodeChanges,
  FORMAT_VERSION,
  headerChecksum,
  headerMacInput,
  MAGIC,
  pad,
  paddedSize,
  SCHEMA_SQL,
  slotBytes,
  slotChecksum,
  slotsDigest,
  TABLE_CHUNKS,
  TABLE_OBJECTS,
  unpad,
  type ChainChange,
  type HeaderRow,
  type SlotRow,
} from '../internal/format.js';
import { SearchIndex, type SearchHit } from '../internal/search.js';
import { formatRecoveryKey, newRecoveryKeySecret, parseRecoveryKey } from '../recovery-key.js';
import {
  checkKdf,
  DEFAULT_KDF,
  isKdfStrongEnough,
  type KdfParams,
  type Unlocker,
  type UnlockerInfo,
  type UnlockerKind,
} from '../unlockers.js';
import { checkVaultFile } from './file-check.js';

/** The last chain position this device saw for a vault (no user data). */
export interface DeviceHead {
  readonly counter: number;
  /** The chain head, hex. */
  readonly head: string;
}

/** Where a device keeps the last seen chain head of each vault, outside the vault. */
export interface DeviceStore {
  read(vaultId: string): DeviceHead | undefined;
  write(vaultId: string, head: DeviceHead): void;
}

/** Options of {@link Vault.open} and {@link Vault.create}. */
export interface VaultOptions {
  /** Time source for timestamps and the idle lock. */
  readonly clock?: Clock;
  /** Lock after this long without use, in ms (default 5 min; 0 never). */
  readonly idleLockMs?: number;
  /** The per-device record of last seen heads (rollback detection). */
  readonly deviceStore?: DeviceStore;
  /** Argon2id parameters for new passphrase slots (default {@link DEFAULT_KDF}). */
  readonly kdf?: KdfParams;
  /** Allow KDF parameters below the floor. For tests only. */
  readonly allowWeakKdf?: boolean;
  /**
   * SQLite `synchronous` level. NORMAL (default) is safe against process crashes (kill -9) and
   * syncs the file at each commit; FULL adds a journal sync that costs ~2-4 ms per commit here and
   * also covers filesystems that may reorder journal writes on power loss.
   */
  readonly durability?: 'NORMAL' | 'FULL';
}

/** What changed in one commit, for subscribers. */
export interface VaultChange {
  readonly collection: string;
  readonly key: string;
  readonly op: 'put' | 'delete';
}

/** The event fired after each commit. */
export interface VaultCommitEvent {
  /** The chain counter of the commit. */
  readonly counter: number;
  readonly changes: readonly VaultChange[];
}

/** Why the vault locked. */
export type LockReason = 'manual' | 'idle' | 'close';

/** One problem found by {@link Vault.verify} or while reading. */
export interface VaultProblem {
  /** header | key_slot | record | chunk | chain | container */
  readonly region: 'header' | 'key_slot' | 'record' | 'chunk' | 'chain' | 'container';
  /** What is affected: a slot id, a record id (hex), a chain counter. */
  readonly subject: string;
  readonly message: string;
}

/** Public facts about a vault, readable while locked. */
export interface VaultStatus {
  readonly path: string;
  readonly format: number;
  readonly vaultId: string;
  /** Milliseconds since the Unix epoch. */
  readonly createdAt: number;
  /** Number of commits so far. */
  readonly counter: number;
  readonly isUnlocked: boolean;
  readonly unlockers: readonly UnlockerInfo[];
}

/** The result of {@link Vault.verify}. */
export interface VerifyReport {
  readonly ok: boolean;
  readonly counter: number;
  readonly objects: number;
  readonly chunks: number;
  readonly problems: readonly VaultProblem[];
}

/** A note: markdown with a title and tags. Timestamps in ms since the Unix epoch. */
export interface Note {
  readonly id: string;
  readonly title: string;
  readonly body: string;
  readonly tags: readonly string[];
  readonly createdAt: number;
  readonly updatedAt: number;
  /** 1 for a new note, +1 per update. */
  readonly revision: number;
}

/** What a caller gives to create or change a note. */
export interface NoteInput {
  readonly title: string;
  readonly body?: string;
  readonly tags?: readonly string[];
}

/** A stored file's metadata. Sizes in bytes, times in ms since the Unix epoch. */
export interface FileInfo {
  readonly id: string;
  readonly name: string;
  readonly size: number;
  readonly mime: string;
  readonly chunks: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

interface StoredFile extends FileInfo {
  readonly gen: string;
}

interface Keys {
  data: SecretKey;
  record: SecretKey;
  index: SecretKey;
  header: SecretKey;
  chain: SecretKey;
}

interface TxState {
  readonly seq: number;
  readonly changes: ChainChange[];
  readonly events: VaultChange[];
  readonly after: (() => void)[];
}

const COLL_NOTES = 'notes';
const COLL_FILES = 'files';
const COLL_SETTINGS = 'settings';
const revColl = (noteId: string) => `note-revisions/${noteId}`;
const recColl = (name: string) => `records/${name}`;

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function toBytes(s: string | Uint8Array): Buffer {
  return typeof s === 'string' ? Buffer.from(s.normalize('NFC'), 'utf8') : Buffer.from(s);
}

function corrupt(
  region: VaultProblem['region'],
  subject: string,
  message: string,
  cause?: unknown,
) {
  return VaultErrors.create('corrupt', message, {
    subject,
    details: { region },
    hint: 'Run `virtos vault verify` for a full report; intact parts stay readable.',
    ...(cause !== undefined && { cause }),
  });
}

const isBuf = (x: unknown): x is Buffer => Buffer.isBuffer(x);
const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

/** True when a row read from the file has the column types the format says (damage can change them). */
function objRowOk(r: { id: unknown; coll: unknown; seq: unknown; ct: unknown }): boolean {
  return isBuf(r.id) && isBuf(r.coll) && isCount(r.seq) && isBuf(r.ct);
}

function chainRowOk(r: ChainRow): boolean {
  return isCount(r.counter) && isCount(r.at) && isBuf(r.prev) && isBuf(r.changes) && isBuf(r.head);
}

function isSqliteDamage(e: unknown): boolean {
  // Any SQLite error on a file that passed the outer checks means its structure is damaged
  // (malformed schema, b-tree, overflow chain), not a caller mistake.
  return e instanceof Error && e.name === 'SqliteError';
}

/** Wraps a SQLite call: structural damage becomes `vault.corrupt` (region container). */
function guard<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (isSqliteDamage(e)) {
      throw corrupt('container', what, `The vault's storage is damaged (${what}).`, e);
    }
    throw e;
  }
}

/**
 * An open vault file. Created locked by {@link Vault.open} (or unlocked by {@link Vault.create});
 * {@link Vault.unlock} derives the keys, {@link Vault.lock} wipes them, {@link Vault.close} releases
 * the file.
 */
export class Vault implements Disposable {
  private db: Database.Database | undefined;
  private header: HeaderRow;
  private keys: Keys | undefined;
  private search: SearchIndex | undefined;
  private idleTimer: Disposable | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly clock: Clock;
  private readonly idleLockMs: number;
  private readonly seen: VaultProblem[] = [];
  private readonly changeEmitter = new Emitter<VaultCommitEvent>();
  private readonly lockEmitter = new Emitter<LockReason>();

  /** Fires after every commit. */
  readonly onDidChange: Event<VaultCommitEvent> = this.changeEmitter.event;
  /** Fires when the keys are wiped. */
  readonly onDidLock: Event<LockReason> = this.lockEmitter.event;
  /** Notes: markdown documents with revisions. */
  readonly notes: NotesApi;
  /** Files, stored in 1 MiB sealed chunks. */
  readonly files: FilesApi;
  /** Settings: small JSON values by key. */
  readonly settings: KeyValueApi;

  private constructor(
    readonly path: string,
    db: Database.Database,
    private readonly options: VaultOptions,
  ) {
    this.db = db;
    this.clock = options.clock ?? systemClock;
    this.idleLockMs = options.idleLockMs ?? 5 * 60_000;
    this.header = this.readHeader();
    this.notes = new NotesApi(this);
    this.files = new FilesApi(this);
    this.settings = new KeyValueApi(this, COLL_SETTINGS);
  }

  // ---------------------------------------------------------------- opening and creating

  private static openDb(
    path: string,
    create: boolean,
    durability: 'NORMAL' | 'FULL' = 'NORMAL',
  ): Database.Database {
    const db = guard('open', () => new Database(path, { fileMustExist: !create }));
    try {
      // SECURITY: temp_store=MEMORY keeps SQLite's temporary tables and sort spills off disk (they
      // would otherwise go unencrypted to /var/tmp). The rollback journal holds only pages of this
      // file, which are already ciphertext or public metadata, and disappears after each commit.
      db.pragma('temp_store = MEMORY');
      guard('journal', () => db.pragma('journal_mode = DELETE'));
      db.pragma(`synchronous = ${durability === 'FULL' ? 'FULL' : 'NORMAL'}`);
      // SECURITY: overwrite deleted cells on the pages being written anyway, so a removed key slot
      // does not linger in free space.
      db.pragma('secure_delete = FAST');
      db.pragma('cell_size_check = ON');
      db.pragma('mmap_size = 0');
    } catch (e) {
      db.close();
      throw e;
    }
    return db;
  }

  /**
   * Creates a vault at `path` with one passphrase unlocker, and returns it unlocked. Refuses an
   * existing file.
   */
  static async create(
    path: string,
    passphrase: string | Uint8Array,
    options: VaultOptions & { readonly label?: string } = {},
  ): Promise<Vault> {
    if (existsSync(path)) {
      throw VaultErrors.create('already_exists', `A file already exists at ${path}.`, {
        subject: path,
        hint: 'Choose another path or remove the old vault first.',
      });
    }
    const kdf = options.kdf ?? DEFAULT_KDF;
    checkKdf(kdf, options.allowWeakKdf === true);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const clock = options.clock ?? systemClock;
    const db = Vault.openDb(path, true, options.durability);
    // SECURITY: owner-only: the file is ciphertext, but its metadata is nobody else's business.
    chmodSync(path, 0o600);
    const vaultId = newId('vault');
    const data = randomKey();
    const keys = deriveKeys(data);
    try {
      const now = clock.now();
      const slot = makePassphraseSlot(
        vaultId,
        toBytes(passphrase),
        kdf,
        data,
        options.label ?? 'passphrase',
        now,
      );
      const genesis = genesisHead(keys, vaultId);
      const digest = slotsDigest(vaultId, [slot]);
      const base = {
        magic: MAGIC,
        format: FORMAT_VERSION,
        vault_id: vaultId,
        created_at: now,
        counter: 0,
        head: genesis,
        slots_digest: digest,
      };
      const mac = hash([headerMacInput(base)], 32, keys.header);
      const header: HeaderRow = { ...base, mac, checksum: headerChecksum({ ...base, mac }) };
      // 64 KiB pages: 1 MiB sealed chunks span 17 pages instead of 257, which measured 327 vs 49 MB/s
      // for blob writes with synchronous=FULL (docs/vault-format.md).
      db.pragma('page_size = 65536');
      db.transaction(() => {
        db.pragma(`application_id = ${APPLICATION_ID}`);
        db.pragma(`user_version = ${FORMAT_VERSION}`);
        db.exec(SCHEMA_SQL);
        db.prepare(
          'INSERT INTO vault_header VALUES (1, @magic, @format, @vault_id, @created_at, @counter, @head, @slots_digest, @mac, @checksum)',
        ).run(header);
        db.prepare(
          'INSERT INTO key_slots VALUES (@id, @kind, @label, @created_at, @params, @salt, @wrapped, @checksum)',
        ).run(slot);
        db.prepare('INSERT INTO chain VALUES (0, ?, ?, ?, ?)').run(
          now,
          Buffer.alloc(32),
          encodeChanges([]),
          genesis,
        );
      }).immediate();
    } catch (e) {
      db.close();
      wipeKeys(keys);
      throw e;
    }
    const vault = new Vault(path, db, options);
    vault.keys = keys;
    vault.recordDeviceHead();
    vault.touch();
    return vault;
  }

  /**
   * Opens an existing vault, locked. Refuses missing, truncated and foreign files and a damaged
   * header with coded errors; damaged key slots are reported by {@link unlockers}.
   */
  static open(path: string, options: VaultOptions = {}): Vault {
    checkVaultFile(path);
    const db = Vault.openDb(path, false, options.durability);
    try {
      const version = guard('header', () => db.pragma('user_version', { simple: true }) as number);
      if (version > FORMAT_VERSION) {
        throw VaultErrors.create(
          'unsupported_version',
          `${path} is a vault of format ${version}; this VirtOS reads up to ${FORMAT_VERSION}.`,
          { subject: path, hint: 'Update VirtOS to open this vault.' },
        );
      }
      return new Vault(path, db, options);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  private get conn(): Database.Database {
    if (!this.db)
      throw VaultErrors.create('closed', 'The vault is closed.', { subject: this.path });
    return this.db;
  }

  private readHeader(): HeaderRow {
    const row = guard('header', () => {
      try {
        return this.conn.prepare('SELECT * FROM vault_header WHERE k = 1').get() as
          HeaderRow | undefined;
      } catch (e) {
        if ((e as { code?: string }).code === 'SQLITE_ERROR') return undefined;
        throw e;
      }
    });
    if (!row) {
      throw corrupt('header', this.path, `The vault header of ${this.path} is missing.`);
    }
    const h = row as HeaderRow & { k?: number };
    delete h.k;
    const valid =
      typeof h.magic === 'string' &&
      typeof h.vault_id === 'string' &&
      isCount(h.format) &&
      isCount(h.created_at) &&
      isCount(h.counter) &&
      Buffer.isBuffer(h.head) &&
      Buffer.isBuffer(h.mac) &&
      Buffer.isBuffer(h.slots_digest) &&
      Buffer.isBuffer(h.checksum);
    // SECURITY: the unkeyed checksum only tells accidental damage apart from a wrong passphrase;
    // authenticity comes from the keyed MAC checked after unlocking.
    if (!valid || !equalBytes(headerChecksum(h), h.checksum)) {
      throw corrupt('header', this.path, `The vault header of ${this.path} is damaged.`);
    }
    if (h.magic !== MAGIC) {
      throw VaultErrors.create('foreign_file', `${this.path} is not a VirtOS vault.`, {
        subject: this.path,
      });
    }
    if (h.format > FORMAT_VERSION) {
      throw VaultErrors.create('unsupported_version', `Vault format ${h.format} is too new.`, {
        subject: this.path,
        hint: 'Update VirtOS to open this vault.',
      });
    }
    return h;
  }

  // ---------------------------------------------------------------- state

  /** True while the data key is in memory. */
  get isUnlocked(): boolean {
    return this.keys !== undefined;
  }

  /** The vault's id (public). */
  get vaultId(): string {
    return this.header.vault_id;
  }

  /** Public facts, readable while locked. */
  status(): VaultStatus {
    return {
      path: this.path,
      format: this.header.format,
      vaultId: this.header.vault_id,
      createdAt: this.header.created_at,
      counter: this.header.counter,
      isUnlocked: this.isUnlocked,
      unlockers: this.unlockers(),
    };
  }

  /** Public chain anchor: counter and head (hex), as the header states it. */
  anchor(): DeviceHead {
    return { counter: this.header.counter, head: hex(this.header.head) };
  }

  private slotRows(): SlotRow[] {
    return guard('key slots', () =>
      this.conn.prepare('SELECT * FROM key_slots ORDER BY created_at, id').all(),
    ) as SlotRow[];
  }

  private slotIntact(s: SlotRow): boolean {
    try {
      return (
        typeof s.id === 'string' &&
        typeof s.kind === 'string' &&
        typeof s.label === 'string' &&
        typeof s.params === 'string' &&
        isCount(s.created_at) &&
        isBuf(s.salt) &&
        isBuf(s.wrapped) &&
        isBuf(s.checksum) &&
        equalBytes(slotChecksum(this.header.vault_id, s), s.checksum) &&
        typeof JSON.parse(s.params) === 'object'
      );
    } catch {
      return false;
    }
  }

  /** The key slots, without secrets. Damaged slots are listed with `isIntact: false`. */
  unlockers(): UnlockerInfo[] {
    return this.slotRows().map((s) => {
      const isIntact = this.slotIntact(s);
      let params: Record<string, unknown> = {};
      try {
        params = JSON.parse(s.params) as Record<string, unknown>;
      } catch {
        /* reported as not intact */
      }
      const kind = (
        ['passphrase', 'passkey', 'recovery'].includes(s.kind) ? s.kind : 'passphrase'
      ) as UnlockerKind;
      return {
        id: s.id,
        kind,
        label: s.label,
        createdAt: s.created_at,
        isIntact,
        ...(kind === 'passphrase' && { kdf: params as unknown as KdfParams }),
        ...(kind === 'passkey' && {
          credentialId: String(params['credentialId']),
          prfSalt: String(params['prfSalt']),
        }),
      };
    });
  }

  // ---------------------------------------------------------------- unlocking

  /**
   * Derives the key from `unlocker`, opens a matching slot, authenticates the header and the chain
   * anchor, and checks the per-device record for a rollback. Throws `wrong_passphrase` (or
   * `wrong_recovery_key`, `wrong_passkey`) when no intact slot opens, `corrupt` when the header
   * fails its MAC, `rolled_back` when the file is older than this device last saw.
   */
  async unlock(unlocker: Unlocker, opts: { acceptRollback?: boolean } = {}): Promise<void> {
    if (this.keys) {
      this.touch();
      return;
    }
    const slots = this.slotRows().filter((s) => s.kind === unlocker.kind);
    const intact = slots.filter((s) => this.slotIntact(s));
    let data: SecretKey | undefined;
    const secret =
      unlocker.kind === 'passphrase'
        ? toBytes(unlocker.passphrase)
        : unlocker.kind === 'passkey'
          ? Buffer.from(unlocker.prfOutput)
          : parseRecoveryKey(unlocker.recoveryKey);
    try {
      if (unlocker.kind === 'passkey' && secret.length !== 32) {
        throw VaultErrors.create('invalid_argument', 'A passkey PRF output has 32 bytes.');
      }
      for (const s of intact) {
        if (unlocker.kind === 'passkey' && unlocker.credentialId !== undefined) {
          const p = JSON.parse(s.params) as { credentialId?: string }; // parse checked by slotIntact
          if (p.credentialId !== unlocker.credentialId) continue;
        }
        const kek = deriveKek(this.header.vault_id, s, secret);
        try {
          data = open(s.wrapped, slotBytes(this.header.vault_id, s), kek);
        } finally {
          wipe(kek);
        }
        if (data) break;
      }
    } finally {
      // SECURITY: the caller's secret is wiped as soon as the slots were tried.
      wipe(secret);
      if (unlocker.kind === 'passphrase' && typeof unlocker.passphrase !== 'string') {
        wipe(unlocker.passphrase);
      }
    }
    if (!data) {
      if (slots.length > 0 && intact.length === 0) {
        throw corrupt('key_slot', unlocker.kind, `Every ${unlocker.kind} key slot is damaged.`);
      }
      if (slots.length === 0) {
        throw VaultErrors.create('no_such_item', `This vault has no ${unlocker.kind} unlocker.`, {
          hint: 'List them with `virtos vault list-unlockers`.',
        });
      }
      const code =
        unlocker.kind === 'passphrase'
          ? 'wrong_passphrase'
          : unlocker.kind === 'recovery'
            ? 'wrong_recovery_key'
            : 'wrong_passkey';
      throw VaultErrors.create(
        code,
        `Wrong ${unlocker.kind === 'recovery' ? 'recovery key' : unlocker.kind}.`,
        {
          subject: this.path,
          hint:
            unlocker.kind === 'passphrase'
              ? 'Try again, or unlock with your recovery key.'
              : 'Check it and try again.',
        },
      );
    }
    // SECURITY: the unwrapped key moves into secure memory at once and the ordinary heap buffer
    // libsodium decrypted into is zeroed.
    const dk = secureAlloc(32);
    data.copy(dk);
    wipe(data);
    const keys = deriveKeys(dk);
    try {
      this.authenticateHeader(keys);
      this.checkChainAnchor(keys);
      this.checkRollback(opts.acceptRollback === true);
    } catch (e) {
      wipeKeys(keys);
      throw e;
    }
    this.keys = keys;
    this.recordDeviceHead();
    this.touch();
  }

  private authenticateHeader(keys: Keys): void {
    const h = this.header;
    // SECURITY: the keyed MAC proves the header (and the slot digest it covers) was written by a
    // holder of the data key; constant-time comparison.
    if (!equalBytes(hash([headerMacInput(h)], 32, keys.header), h.mac)) {
      throw corrupt(
        'header',
        this.path,
        'The vault header failed authentication (altered or damaged).',
      );
    }
  }

  private checkChainAnchor(keys: Keys): void {
    const last = guard('chain', () =>
      this.conn.prepare('SELECT * FROM chain ORDER BY counter DESC LIMIT 1').get(),
    ) as ChainRow | undefined;
    if (
      !last ||
      !chainRowOk(last) ||
      last.counter !== this.header.counter ||
      !equalBytes(last.head, this.header.head)
    ) {
      throw corrupt(
        'chain',
        String(this.header.counter),
        'The integrity chain does not end where the header says.',
      );
    }
    if (!equalBytes(this.expectedHead(keys, last), last.head)) {
      throw corrupt(
        'chain',
        String(last.counter),
        `Chain entry ${last.counter} failed authentication.`,
      );
    }
  }

  private expectedHead(keys: Keys, row: ChainRow): Buffer {
    return row.counter === 0 ? genesisHead(keys, this.header.vault_id) : chainHead(keys.chain, row);
  }

  private checkRollback(accept: boolean): void {
    const store = this.options.deviceStore;
    const seen = store?.read(this.header.vault_id);
    if (!seen || accept) return;
    const older = () =>
      VaultErrors.create(
        'rolled_back',
        `This vault is older than the last one opened on this device (commit ${this.header.counter} < ${seen.counter}).`,
        {
          subject: this.path,
          hint: 'Someone may have replaced it with an old copy. If you restored a backup on purpose, unlock with --accept-rollback.',
          details: { counter: this.header.counter, lastSeen: seen.counter },
        },
      );
    if (this.header.counter < seen.counter) throw older();
    const row = this.conn.prepare('SELECT head FROM chain WHERE counter = ?').get(seen.counter) as
      { head: Buffer } | undefined;
    if (!row || !isBuf(row.head) || hex(row.head) !== seen.head) {
      throw VaultErrors.create(
        'rolled_back',
        'This vault has a different history than the one last opened on this device (swapped file).',
        {
          subject: this.path,
          hint: 'If you replaced it on purpose, unlock with --accept-rollback.',
          details: { lastSeen: seen.counter },
        },
      );
    }
  }

  private recordDeviceHead(): void {
    this.options.deviceStore?.write(this.header.vault_id, this.anchor());
  }

  /** Wipes the keys and the search index from memory. Safe to call when locked. */
  lock(reason: LockReason = 'manual'): void {
    this.idleTimer?.dispose();
    this.idleTimer = undefined;
    if (!this.keys) return;
    if (this.db) this.recordDeviceHead();
    wipeKeys(this.keys);
    this.keys = undefined;
    this.search?.dispose();
    this.search = undefined;
    this.lockEmitter.fire(reason);
  }

  /** Locks and closes the file; afterwards the vault is one file on disk again. */
  close(): void {
    this.lock('close');
    this.db?.close();
    this.db = undefined;
  }

  /** Same as {@link close}. */
  dispose(): void {
    this.close();
  }

  private touch(): void {
    if (!this.keys || this.idleLockMs <= 0) return;
    this.idleTimer?.dispose();
    this.idleTimer = this.clock.setTimeout(() => this.lock('idle'), this.idleLockMs);
  }

  /** @internal The keys; throws `locked` when locked. Resets the idle timer. */
  k(): Keys {
    if (!this.keys) {
      throw VaultErrors.create('locked', 'The vault is locked.', {
        subject: this.path,
        hint: 'Unlock it first (virtos vault unlock).',
      });
    }
    void this.conn;
    this.touch();
    return this.keys;
  }

  /** @internal The clock's wall time in ms. */
  now(): number {
    return this.clock.now();
  }

  // ---------------------------------------------------------------- unlocker management

  private writeSlots(mutate: (db: Database.Database) => void): void {
    const keys = this.k();
    const db = this.conn;
    db.transaction(() => {
      mutate(db);
      const slots = this.slotRows();
      this.rewriteHeader(keys, { slots_digest: slotsDigest(this.header.vault_id, slots) });
    }).immediate();
    this.header = this.readHeader();
  }

  private rewriteHeader(keys: Keys, patch: Partial<HeaderRow>): HeaderRow {
    const base = { ...this.header, ...patch };
    const mac = hash([headerMacInput(base)], 32, keys.header);
    const next = { ...base, mac, checksum: headerChecksum({ ...base, mac }) };
    this.conn
      .prepare(
        'UPDATE vault_header SET counter = @counter, head = @head, slots_digest = @slots_digest, mac = @mac, checksum = @checksum WHERE k = 1',
      )
      .run(next);
    return next;
  }

  private insertSlot(slot: SlotRow): UnlockerInfo {
    this.writeSlots((db) =>
      db
        .prepare(
          'INSERT INTO key_slots VALUES (@id, @kind, @label, @created_at, @params, @salt, @wrapped, @checksum)',
        )
        .run(slot),
    );
    return this.unlockers().find((u) => u.id === slot.id)!;
  }

  /** Adds a passphrase unlocker. The data is not re-encrypted. */
  addPassphrase(passphrase: string | Uint8Array, label = 'passphrase'): UnlockerInfo {
    const kdf = this.options.kdf ?? DEFAULT_KDF;
    checkKdf(kdf, this.options.allowWeakKdf === true);
    const keys = this.k();
    return this.insertSlot(
      makePassphraseSlot(
        this.header.vault_id,
        toBytes(passphrase),
        kdf,
        keys.data,
        label,
        this.clock.now(),
      ),
    );
  }

  /** Adds a recovery-key unlocker and returns the printable key (shown once, never stored). */
  addRecoveryKey(label = 'recovery key'): { unlocker: UnlockerInfo; recoveryKey: string } {
    const keys = this.k();
    const secret = newRecoveryKeySecret();
    const recoveryKey = formatRecoveryKey(secret);
    const slot = makeSlot(
      this.header.vault_id,
      'recovery',
      label,
      '{}',
      randomBytes(32),
      secret,
      keys.data,
      this.clock.now(),
    );
    wipe(secret);
    return { unlocker: this.insertSlot(slot), recoveryKey };
  }

  /**
   * Adds a passkey unlocker from a WebAuthn PRF output. `prfSalt` is the PRF input the shell used
   * (base64url); it is stored so the shell can ask for the same output next time.
   */
  addPasskey(
    input: { prfOutput: Uint8Array; credentialId: string; prfSalt: string },
    label = 'passkey',
  ): UnlockerInfo {
    if (input.prfOutput.length !== 32) {
      throw VaultErrors.create('invalid_argument', 'A passkey PRF output has 32 bytes.');
    }
    const keys = this.k();
    const params = JSON.stringify({ credentialId: input.credentialId, prfSalt: input.prfSalt });
    const slot = makeSlot(
      this.header.vault_id,
      'passkey',
      label,
      params,
      randomBytes(32),
      Buffer.from(input.prfOutput),
      keys.data,
      this.clock.now(),
    );
    return this.insertSlot(slot);
  }

  /**
   * Replaces passphrase slot `id` (or the only one) by a slot for `next`, with the current KDF
   * defaults (this is also how KDF parameters are upgraded). The data is not re-encrypted.
   */
  changePassphrase(next: string | Uint8Array, id?: string): UnlockerInfo {
    const keys = this.k();
    const slots = this.unlockers().filter((u) => u.kind === 'passphrase');
    const target = id === undefined ? slots[0] : slots.find((s) => s.id === id);
    if (!target || (id === undefined && slots.length > 1)) {
      throw VaultErrors.create(
        'no_such_item',
        id === undefined ? 'Say which passphrase slot to change.' : `No passphrase unlocker ${id}.`,
      );
    }
    const kdf = this.options.kdf ?? DEFAULT_KDF;
    checkKdf(kdf, this.options.allowWeakKdf === true);
    const slot = makePassphraseSlot(
      this.header.vault_id,
      toBytes(next),
      kdf,
      keys.data,
      target.label,
      this.clock.now(),
    );
    this.writeSlots((db) => {
      db.prepare('DELETE FROM key_slots WHERE id = ?').run(target.id);
      db.prepare(
        'INSERT INTO key_slots VALUES (@id, @kind, @label, @created_at, @params, @salt, @wrapped, @checksum)',
      ).run(slot);
    });
    return this.unlockers().find((u) => u.id === slot.id)!;
  }

  /** Removes an unlocker; refuses to remove the last intact one. */
  removeUnlocker(id: string): void {
    this.k();
    const all = this.unlockers();
    const target = all.find((u) => u.id === id);
    if (!target) throw VaultErrors.create('no_such_item', `No unlocker ${id}.`, { subject: id });
    if (target.isIntact && all.filter((u) => u.isIntact).length <= 1) {
      throw VaultErrors.create(
        'last_unlocker',
        'This is the last unlocker; the vault could never be opened again.',
        {
          subject: id,
          hint: 'Add another unlocker first.',
        },
      );
    }
    this.writeSlots((db) => db.prepare('DELETE FROM key_slots WHERE id = ?').run(id));
  }

  /** True when a passphrase slot uses KDF parameters below the current defaults (upgrade with passwd). */
  needsKdfUpgrade(): boolean {
    const want = this.options.kdf ?? DEFAULT_KDF;
    return this.unlockers().some(
      (u) =>
        u.kdf !== undefined &&
        (u.kdf.memlimit < want.memlimit ||
          u.kdf.opslimit < want.opslimit ||
          !isKdfStrongEnough(u.kdf)),
    );
  }

  // ---------------------------------------------------------------- sealed objects

  /** @internal */
  blindId(coll: string, key: string): Buffer {
    // SECURITY: keyed hash: the host sees random-looking ids, not note ids, names or keys.
    return hash(
      [Buffer.from('vtos1/id'), Buffer.from(coll), Buffer.from([0]), Buffer.from(key)],
      16,
      this.k().index,
    );
  }

  /** @internal */
  collTag(coll: string): Buffer {
    return hash([Buffer.from('vtos1/coll'), Buffer.from(coll)], 16, this.k().index);
  }

  private objAd(id: Buffer, tag: Buffer, seq: number): Buffer {
    // SECURITY: the associated data binds a sealed record to its row id, collection and commit, so a
    // record moved to another row or another vault fails authentication.
    return new ByteWriter()
      .str('vtos1/obj')
      .str(this.header.vault_id)
      .bytes(id)
      .bytes(tag)
      .u64(seq)
      .done();
  }

  private chunkAd(file: Buffer, idx: number, seq: number): Buffer {
    return new ByteWriter()
      .str('vtos1/chunk')
      .str(this.header.vault_id)
      .bytes(file)
      .u32(idx)
      .u64(seq)
      .done();
  }

  private decodeObject(row: { id: Buffer; coll: Buffer; seq: number; ct: Buffer }): {
    c: string;
    k: string;
    v: unknown;
  } {
    const keys = this.k();
    const plain = objRowOk(row)
      ? open(row.ct, this.objAd(row.id, row.coll, row.seq), keys.record)
      : undefined;
    const body = plain && unpad(plain);
    if (!body) {
      const p: VaultProblem = {
        region: 'record',
        subject: hex(row.id),
        message: 'A record failed authentication (damaged or altered).',
      };
      if (!this.seen.some((q) => q.subject === p.subject)) this.seen.push(p);
      throw corrupt('record', p.subject, `Record ${p.subject} is damaged or altered.`);
    }
    return JSON.parse(body.toString('utf8')) as { c: string; k: string; v: unknown };
  }

  /** @internal Reads one value; undefined when absent. */
  getObject<T>(coll: string, key: string): T | undefined {
    const id = this.blindId(coll, key);
    const row = guard('read', () =>
      this.conn.prepare('SELECT id, coll, seq, ct FROM objects WHERE id = ?').get(id),
    ) as { id: Buffer; coll: Buffer; seq: number; ct: Buffer } | undefined;
    if (!row) return undefined;
    const o = this.decodeObject(row);
    if (o.c !== coll || o.k !== key)
      throw corrupt('record', hex(id), 'A record is not where it belongs.');
    return o.v as T;
  }

  /**
   * @internal Lists a collection. Damaged records are skipped and remembered (see {@link problems}),
   * so intact ones stay readable.
   */
  listObjects<T>(coll: string): T[] {
    const rows = guard('list', () =>
      this.conn
        .prepare('SELECT id, coll, seq, ct FROM objects WHERE coll = ?')
        .all(this.collTag(coll)),
    ) as {
      id: Buffer;
      coll: Buffer;
      seq: number;
      ct: Buffer;
    }[];
    const out: T[] = [];
    for (const r of rows) {
      try {
        const o = this.decodeObject(r);
        if (o.c === coll) out.push(o.v as T);
      } catch (e) {
        if (!VaultErrors.is(e, 'corrupt')) throw e;
      }
    }
    return out;
  }

  /** Damage met while reading since unlock (records skipped by list calls). */
  problems(): readonly VaultProblem[] {
    return [...this.seen];
  }

  /** @internal */
  putObject(tx: TxState, coll: string, key: string, value: unknown): void {
    const keys = this.k();
    const id = this.blindId(coll, key);
    const tag = this.collTag(coll);
    const plain = pad(Buffer.from(JSON.stringify({ c: coll, k: key, v: value }), 'utf8'));
    const ct = seal(plain, this.objAd(id, tag, tx.seq), keys.record);
    this.conn
      .prepare('INSERT OR REPLACE INTO objects (id, coll, seq, ct) VALUES (?, ?, ?, ?)')
      .run(id, tag, tx.seq, ct);
    tx.changes.push({ table: TABLE_OBJECTS, id, idx: 0, ctHash: sealedId(ct) });
    tx.events.push({ collection: coll, key, op: 'put' });
  }

  /** @internal */
  deleteObject(tx: TxState, coll: string, key: string): boolean {
    const id = this.blindId(coll, key);
    const r = this.conn.prepare('DELETE FROM objects WHERE id = ?').run(id);
    if (r.changes === 0) return false;
    tx.changes.push({ table: TABLE_OBJECTS, id, idx: 0, ctHash: undefined });
    tx.events.push({ collection: coll, key, op: 'delete' });
    return true;
  }

  /** @internal */
  deleteCollection(tx: TxState, coll: string): void {
    const tag = this.collTag(coll);
    const ids = this.conn
      .prepare('SELECT id FROM objects WHERE coll = ?')
      .pluck()
      .all(tag) as Buffer[];
    this.conn.prepare('DELETE FROM objects WHERE coll = ?').run(tag);
    for (const id of ids) tx.changes.push({ table: TABLE_OBJECTS, id, idx: 0, ctHash: undefined });
  }

  /** @internal */
  putChunk(tx: TxState, file: Buffer, idx: number, data: Uint8Array): void {
    // Full chunks are sealed as they are; the last one is zero-padded to its size bucket (its true
    // length follows from the authenticated file size).
    let plain: Uint8Array = data;
    if (data.length !== CHUNK_BYTES) {
      const padded = Buffer.alloc(paddedSize(data.length));
      padded.set(data);
      plain = padded;
    }
    const ct = seal(plain, this.chunkAd(file, idx, tx.seq), this.k().record);
    if (plain !== data) wipe(plain);
    this.conn
      .prepare('INSERT OR REPLACE INTO chunks (file, idx, seq, ct) VALUES (?, ?, ?, ?)')
      .run(file, idx, tx.seq, ct);
    tx.changes.push({ table: TABLE_CHUNKS, id: file, idx, ctHash: sealedId(ct) });
  }

  /** @internal */
  deleteChunks(tx: TxState, file: Buffer): void {
    const idxs = this.conn
      .prepare('SELECT idx FROM chunks WHERE file = ?')
      .pluck()
      .all(file) as number[];
    this.conn.prepare('DELETE FROM chunks WHERE file = ?').run(file);
    for (const idx of idxs)
      tx.changes.push({ table: TABLE_CHUNKS, id: file, idx, ctHash: undefined });
  }

  /** @internal */
  readChunk(file: Buffer, idx: number, length: number): Buffer {
    const row = guard('read', () =>
      this.conn.prepare('SELECT seq, ct FROM chunks WHERE file = ? AND idx = ?').get(file, idx),
    ) as { seq: number; ct: Buffer } | undefined;
    if (!row) throw corrupt('chunk', `${hex(file)}#${idx}`, `File chunk ${idx} is missing.`);
    const plain = !isCount(row.seq)
      ? undefined
      : open(row.ct, this.chunkAd(file, idx, row.seq), this.k().record);
    if (!plain || plain.length < length) {
      throw corrupt('chunk', `${hex(file)}#${idx}`, `File chunk ${idx} is damaged or altered.`);
    }
    return plain.subarray(0, length);
  }

  // ---------------------------------------------------------------- commits

  private enqueue<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private finish(tx: TxState): HeaderRow | undefined {
    if (tx.changes.length === 0) return undefined;
    const keys = this.k();
    const changes = encodeChanges(tx.changes);
    const row: ChainRow = {
      counter: tx.seq,
      at: this.clock.now(),
      prev: this.header.head,
      changes,
      head: Buffer.alloc(0),
    };
    // SECURITY: each commit's head is a keyed hash over counter, previous head and the hashes of
    // every changed row, so nobody without the key can extend, shorten or reorder the chain.
    row.head = chainHead(keys.chain, row);
    this.conn
      .prepare(
        'INSERT INTO chain (counter, at, prev, changes, head) VALUES (@counter, @at, @prev, @changes, @head)',
      )
      .run(row);
    return this.rewriteHeader(keys, { counter: tx.seq, head: row.head });
  }

  private published(tx: TxState, next: HeaderRow | undefined): void {
    if (!next) return;
    this.header = next;
    for (const f of tx.after) f();
    this.changeEmitter.fire({ counter: next.counter, changes: tx.events });
  }

  /** @internal Runs a synchronous write as one commit. */
  writeSync<T>(fn: (tx: TxState) => T): T {
    this.k();
    const tx: TxState = { seq: this.header.counter + 1, changes: [], events: [], after: [] };
    let next: HeaderRow | undefined;
    const result = guard('write', () =>
      this.conn
        .transaction(() => {
          const r = fn(tx);
          next = this.finish(tx);
          return r;
        })
        .immediate(),
    );
    this.published(tx, next);
    return result;
  }

  /** @internal Queues a synchronous write behind any running streamed write. */
  write<T>(fn: (tx: TxState) => T): Promise<T> {
    return this.enqueue(() => this.writeSync(fn));
  }

  /** @internal Runs an asynchronous write (a streamed file) as one commit. */
  writeAsync<T>(fn: (tx: TxState) => Promise<T>): Promise<T> {
    return this.enqueue(async () => {
      this.k();
      const db = this.conn;
      const tx: TxState = { seq: this.header.counter + 1, changes: [], events: [], after: [] };
      db.exec('BEGIN IMMEDIATE');
      let next: HeaderRow | undefined;
      let result: T;
      try {
        result = await fn(tx);
        next = this.finish(tx);
        db.exec('COMMIT');
      } catch (e) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw e;
      }
      this.published(tx, next);
      return result;
    });
  }

  /**
   * Runs `fn` as one atomic commit: every change in it lands together or not at all, and extends
   * the integrity chain once.
   */
  transaction<T>(fn: (tx: VaultTransaction) => T): Promise<T> {
    return this.write((state) => fn(new VaultTransaction(this, state)));
  }

  /** Small JSON records of another package (e.g. `orchestrator.registry`, `audit`). */
  records(collection: string): KeyValueApi {
    return new KeyValueApi(this, recColl(collection));
  }

  // ---------------------------------------------------------------- search

  /** @internal */
  index(): SearchIndex | undefined {
    return this.search;
  }

  /**
   * Full-text search over note titles, bodies, tags and file names. The index is built in memory on
   * the first search after unlock and kept current by later commits.
   */
  find(query: string, limit = 20): SearchHit[] {
    this.k();
    if (!this.search) {
      const idx = new SearchIndex();
      idx.batch(() => {
        for (const n of this.listObjects<Note>(COLL_NOTES))
          idx.upsert('note', n.id, n.title, n.body, n.tags.join(' '));
        for (const f of this.listObjects<StoredFile>(COLL_FILES))
          idx.upsert('file', f.id, f.name, '', '');
      });
      this.search = idx;
    }
    return this.search.query(query, limit);
  }

  // ---------------------------------------------------------------- verify

  /**
   * Walks everything: SQLite structure, header MAC, every key slot, every chain entry, every record
   * and chunk against the chain. Reports every problem; throws only when locked.
   */
  verify(): VerifyReport {
    const keys = this.k();
    const db = this.conn;
    const problems: VaultProblem[] = [];
    try {
      const res = db.pragma('integrity_check') as { integrity_check: string }[];
      for (const r of res) {
        if (r.integrity_check !== 'ok')
          problems.push({ region: 'container', subject: 'sqlite', message: r.integrity_check });
      }
    } catch (e) {
      problems.push({
        region: 'container',
        subject: 'sqlite',
        message: String((e as Error).message),
      });
    }
    try {
      this.authenticateHeader(keys);
    } catch (e) {
      problems.push({ region: 'header', subject: 'header', message: (e as Error).message });
    }
    const slots = this.slotRows();
    for (const s of slots) {
      if (!this.slotIntact(s))
        problems.push({
          region: 'key_slot',
          subject: s.id,
          message: `Key slot ${s.id} (${s.kind}) is damaged.`,
        });
    }
    if (!equalBytes(slotsDigest(this.header.vault_id, slots), this.header.slots_digest)) {
      problems.push({
        region: 'key_slot',
        subject: 'slots',
        message: 'The set of key slots differs from the one the header authenticates.',
      });
    }
    // The chain: recompute every head, check links, and learn the last write of every row.
    const latest = new Map<string, { seq: number; ctHash: Buffer | undefined }>();
    let prev: Buffer | undefined;
    let expected = 0;
    let chainOk = true;
    try {
      for (const row of db
        .prepare('SELECT * FROM chain ORDER BY counter')
        .iterate() as IterableIterator<ChainRow>) {
        const subject = String(row.counter);
        if (!chainRowOk(row)) {
          problems.push({
            region: 'chain',
            subject,
            message: `Chain entry ${subject} is malformed.`,
          });
          chainOk = false;
          continue;
        }
        if (row.counter !== expected) {
          problems.push({
            region: 'chain',
            subject,
            message: `Chain entries ${expected}..${row.counter - 1} are missing.`,
          });
          chainOk = false;
        }
        expected = row.counter + 1;
        if (!equalBytes(this.expectedHead(keys, row), row.head)) {
          problems.push({
            region: 'chain',
            subject,
            message: `Chain entry ${row.counter} failed authentication.`,
          });
          chainOk = false;
        }
        if (prev && !equalBytes(prev, row.prev)) {
          problems.push({
            region: 'chain',
            subject,
            message: `Chain entry ${row.counter} does not link to its predecessor.`,
          });
          chainOk = false;
        }
        prev = row.head;
        const changes = decodeChanges(row.changes);
        if (!changes) {
          problems.push({
            region: 'chain',
            subject,
            message: `Chain entry ${row.counter} is unreadable.`,
          });
          continue;
        }
        for (const c of changes)
          latest.set(`${c.table}:${hex(c.id)}:${c.idx}`, { seq: row.counter, ctHash: c.ctHash });
      }
    } catch (e) {
      problems.push({
        region: 'container',
        subject: 'chain',
        message: `Reading the chain failed: ${(e as Error).message}`,
      });
      chainOk = false;
    }
    if (!prev || !equalBytes(prev, this.header.head) || expected - 1 !== this.header.counter) {
      problems.push({
        region: 'chain',
        subject: String(this.header.counter),
        message: 'The chain does not end at the head the header names.',
      });
      chainOk = false;
    }
    const check = (
      region: 'record' | 'chunk',
      key: string,
      subject: string,
      seq: number,
      ct: Buffer,
      plain: Buffer | undefined,
    ) => {
      const want = latest.get(key);
      latest.delete(key);
      if (!plain) {
        problems.push({
          region,
          subject,
          message: `${region === 'record' ? 'Record' : 'Chunk'} ${subject} failed authentication.`,
        });
      } else if (
        chainOk &&
        (!want || !want.ctHash || want.seq !== seq || !equalBytes(want.ctHash, sealedId(ct)))
      ) {
        problems.push({
          region,
          subject,
          message: `${region === 'record' ? 'Record' : 'Chunk'} ${subject} is not the version the chain recorded (rolled back or injected).`,
        });
      }
    };
    let objects = 0;
    try {
      for (const r of db
        .prepare('SELECT id, coll, seq, ct FROM objects')
        .iterate() as IterableIterator<{ id: Buffer; coll: Buffer; seq: number; ct: Buffer }>) {
        objects++;
        if (!objRowOk(r)) {
          problems.push({
            region: 'record',
            subject: `row ${objects}`,
            message: 'A record row is malformed.',
          });
          continue;
        }
        const p = open(r.ct, this.objAd(r.id, r.coll, r.seq), keys.record);
        check('record', `${TABLE_OBJECTS}:${hex(r.id)}:0`, hex(r.id), r.seq, r.ct, p && unpad(p));
      }
    } catch (e) {
      problems.push({
        region: 'container',
        subject: 'objects',
        message: `Reading records failed: ${(e as Error).message}`,
      });
    }
    let chunks = 0;
    try {
      for (const r of db
        .prepare('SELECT file, idx, seq, ct FROM chunks')
        .iterate() as IterableIterator<{ file: Buffer; idx: number; seq: number; ct: Buffer }>) {
        chunks++;
        if (!objRowOk({ id: r.file, coll: r.file, seq: r.seq, ct: r.ct }) || !isCount(r.idx)) {
          problems.push({
            region: 'chunk',
            subject: `row ${chunks}`,
            message: 'A chunk row is malformed.',
          });
          continue;
        }
        const p = open(r.ct, this.chunkAd(r.file, r.idx, r.seq), keys.record);
        check(
          'chunk',
          `${TABLE_CHUNKS}:${hex(r.file)}:${r.idx}`,
          `${hex(r.file)}#${r.idx}`,
          r.seq,
          r.ct,
          p,
        );
      }
    } catch (e) {
      problems.push({
        region: 'container',
        subject: 'chunks',
        message: `Reading chunks failed: ${(e as Error).message}`,
      });
    }
    if (chainOk) {
      for (const [key, v] of latest) {
        if (v.ctHash) {
          const [t, id, idx] = key.split(':');
          problems.push({
            region: t === String(TABLE_OBJECTS) ? 'record' : 'chunk',
            subject: t === String(TABLE_OBJECTS) ? id! : `${id}#${idx}`,
            message: 'A row the chain recorded is missing (deleted or rolled back).',
          });
        }
      }
    }
    return { ok: problems.length === 0, counter: this.header.counter, objects, chunks, problems };
  }

  // ---------------------------------------------------------------- transfer

  /** Copies the file consistently to `dest` (ciphertext only) with SQLite's online backup. */
  async backupTo(dest: string): Promise<void> {
    await this.enqueue(() => this.conn.backup(dest));
  }
}

interface ChainRow {
  counter: number;
  at: number;
  prev: Buffer;
  changes: Buffer;
  head: Buffer;
}

/**
 * What the chain records of a sealed row: a hash of its nonce and tag. The Poly1305 tag already
 * binds the whole ciphertext under the record key, so this names one exact version without hashing
 * megabytes again.
 */
function sealedId(ct: Buffer): Buffer {
  // SECURITY: two different ciphertexts with equal nonce and tag that both authenticate would be a
  // Poly1305 forgery; verify() also opens every row, so a row can only match its chain entry if it
  // is the exact version that was committed.
  return hash([ct.subarray(0, NONCE_BYTES), ct.subarray(ct.length - TAG_BYTES)]);
}

function chainHead(key: SecretKey, row: Omit<ChainRow, 'head'>): Buffer {
  return hash(
    [
      new ByteWriter()
        .str('vtos1/chain')
        .u64(row.counter)
        .u64(row.at)
        .bytes(row.prev)
        .bytes(hash([row.changes]))
        .done(),
    ],
    32,
    key,
  );
}

function genesisHead(keys: Keys, vaultId: string): Buffer {
  return hash([Buffer.from('vtos1/genesis'), Buffer.from(vaultId)], 32, keys.chain);
}

function deriveKeys(data: SecretKey): Keys {
  return {
    data,
    record: deriveSubkey(data, 1, 'vtosrec1'),
    index: deriveSubkey(data, 2, 'vtosidx1'),
    header: deriveSubkey(data, 3, 'vtoshdr1'),
    chain: deriveSubkey(data, 4, 'vtoschn1'),
  };
}

function wipeKeys(k: Keys): void {
  // SECURITY: every key is zeroed in place; the secure buffers are then left to the GC (sodium
  // frees them with a final wipe).
  for (const b of [k.data, k.record, k.index, k.header, k.chain]) wipe(b);
}

/** Derives the key-encryption key of a slot from the unlocker secret. */
function deriveKek(
  vaultId: string,
  s: Omit<SlotRow, 'checksum' | 'wrapped'>,
  secret: Uint8Array,
): SecretKey {
  if (s.kind === 'passphrase') {
    const p = JSON.parse(s.params) as KdfParams;
    // SECURITY: stored parameters are checked against the floor so a tampered slot cannot make us
    // derive with a cheap KDF (a forged slot could at most fail to open).
    // SECURITY: bounds on stored parameters: a tampered slot must not make us allocate terabytes or
    // loop for hours (a cheap forged setting only fails to open, since the parameters are the
    // wrapped key's associated data).
    if (
      !Number.isInteger(p.opslimit) ||
      !Number.isInteger(p.memlimit) ||
      p.opslimit < 1 ||
      p.opslimit > 64 ||
      p.memlimit < 8192 ||
      p.memlimit > 4 * 1024 ** 3
    ) {
      throw corrupt('key_slot', s.id, `Key slot ${s.id} has impossible KDF parameters.`);
    }
    return argon2id(secret, s.salt, p);
  }
  if (s.kind === 'passkey') {
    const p = JSON.parse(s.params) as { credentialId: string };
    // SECURITY: the PRF output is already a uniformly random 32-byte secret of the authenticator;
    // HKDF-SHA256 with a per-slot salt and an info naming vault and credential domain-separates it.
    return hkdfSha256(
      secret,
      s.salt,
      Buffer.from(`virtos-vault/v1/passkey/${vaultId}/${p.credentialId}`),
    );
  }
  // SECURITY: a recovery key has 240 random bits; no stretching is needed, HKDF only separates.
  return hkdfSha256(secret, s.salt, Buffer.from(`virtos-vault/v1/recovery/${vaultId}`));
}

function makeSlot(
  vaultId: string,
  kind: UnlockerKind,
  label: string,
  params: string,
  salt: Buffer,
  secret: Buffer,
  data: SecretKey,
  now: number,
): SlotRow {
  const base = { id: newId('slot'), kind, label, created_at: now, params, salt };
  const kek = deriveKek(vaultId, base, secret);
  try {
    // SECURITY: the data key is wrapped with XChaCha20-Poly1305 under the slot's KEK; the slot's own
    // fields are the associated data, so changing its KDF parameters or kind breaks the tag.
    const wrapped = seal(data, slotBytes(vaultId, base), kek);
    const row = { ...base, wrapped };
    return { ...row, checksum: slotChecksum(vaultId, row) };
  } finally {
    wipe(kek);
    wipe(secret);
  }
}

function makePassphraseSlot(
  vaultId: string,
  pass: Buffer,
  kdf: KdfParams,
  data: SecretKey,
  label: string,
  now: number,
): SlotRow {
  // SECURITY: a fresh random salt per slot; the parameters are stored so they can be raised later.
  return makeSlot(
    vaultId,
    'passphrase',
    label,
    JSON.stringify(kdf),
    randomBytes(PWHASH_SALT_BYTES),
    pass,
    data,
    now,
  );
}

// ------------------------------------------------------------------ collections

function normTags(tags: readonly string[] | undefined): string[] {
  return [...new Set((tags ?? []).map((t) => t.trim()).filter((t) => t !== ''))].sort();
}

/** Note writes inside a transaction. */
class NotesTx {
  constructor(
    private readonly v: Vault,
    private readonly tx: TxState,
  ) {}

  create(input: NoteInput): Note {
    if (input.title.trim() === '')
      throw VaultErrors.create('invalid_argument', 'A note needs a title.');
    const now = this.v.now();
    const note: Note = {
      id: newId('note'),
      title: input.title,
      body: input.body ?? '',
      tags: normTags(input.tags),
      createdAt: now,
      updatedAt: now,
      revision: 1,
    };
    this.v.putObject(this.tx, COLL_NOTES, note.id, note);
    this.tx.after.push(() =>
      this.v.index()?.upsert('note', note.id, note.title, note.body, note.tags.join(' ')),
    );
    return note;
  }

  update(id: string, patch: Partial<NoteInput>): Note {
    const old = this.v.getObject<Note>(COLL_NOTES, id);
    if (!old) throw VaultErrors.create('no_such_item', `No note ${id}.`, { subject: id });
    this.v.putObject(this.tx, revColl(id), String(old.revision), old);
    const note: Note = {
      ...old,
      ...(patch.title !== undefined && { title: patch.title }),
      ...(patch.body !== undefined && { body: patch.body }),
      ...(patch.tags !== undefined && { tags: normTags(patch.tags) }),
      updatedAt: this.v.now(),
      revision: old.revision + 1,
    };
    this.v.putObject(this.tx, COLL_NOTES, id, note);
    this.tx.after.push(() =>
      this.v.index()?.upsert('note', note.id, note.title, note.body, note.tags.join(' ')),
    );
    return note;
  }

  remove(id: string): void {
    if (!this.v.deleteObject(this.tx, COLL_NOTES, id)) {
      throw VaultErrors.create('no_such_item', `No note ${id}.`, { subject: id });
    }
    this.v.deleteCollection(this.tx, revColl(id));
    this.tx.after.push(() => this.v.index()?.remove(id));
  }
}

/** Key-value writes inside a transaction. */
class KeyValueTx {
  constructor(
    private readonly v: Vault,
    private readonly tx: TxState,
    private readonly coll: string,
  ) {}
  set(key: string, value: unknown): void {
    this.v.putObject(this.tx, this.coll, key, value);
  }
  delete(key: string): boolean {
    return this.v.deleteObject(this.tx, this.coll, key);
  }
}

/** The writes available inside {@link Vault.transaction}. */
export class VaultTransaction {
  /** Note writes. */
  readonly notes: NotesTx;
  /** Setting writes. */
  readonly settings: KeyValueTx;
  constructor(
    private readonly v: Vault,
    private readonly tx: TxState,
  ) {
    this.notes = new NotesTx(v, tx);
    this.settings = new KeyValueTx(v, tx, COLL_SETTINGS);
  }
  /** Writes to another package's records. */
  records(collection: string): KeyValueTx {
    return new KeyValueTx(this.v, this.tx, recColl(collection));
  }
}

/** Notes: reads are synchronous; each write is one commit. */
export class NotesApi {
  constructor(private readonly v: Vault) {}
  /** Creates a note. */
  create(input: NoteInput): Promise<Note> {
    return this.v.write((tx) => new NotesTx(this.v, tx).create(input));
  }
  /** Changes a note, keeping the previous version as a revision. */
  update(id: string, patch: Partial<NoteInput>): Promise<Note> {
    return this.v.write((tx) => new NotesTx(this.v, tx).update(id, patch));
  }
  /** Deletes a note and its revisions. */
  remove(id: string): Promise<void> {
    return this.v.write((tx) => new NotesTx(this.v, tx).remove(id));
  }
  /** One note, or undefined. */
  get(id: string): Note | undefined {
    return this.v.getObject<Note>(COLL_NOTES, id);
  }
  /** All intact notes, most recently updated first. */
  list(): Note[] {
    return this.v
      .listObjects<Note>(COLL_NOTES)
      .sort((a, b) => b.updatedAt - a.updatedAt || (a.id < b.id ? -1 : 1));
  }
  /** Earlier versions of a note, oldest first. */
  revisions(id: string): Note[] {
    return this.v.listObjects<Note>(revColl(id)).sort((a, b) => a.revision - b.revision);
  }
  /** Full-text search over notes (and file names). */
  search(query: string, limit = 20): SearchHit[] {
    return this.v.find(query, limit);
  }
}

/** Small JSON values by key. */
export class KeyValueApi {
  constructor(
    private readonly v: Vault,
    private readonly coll: string,
  ) {}
  /** The value, or undefined. */
  get<T>(key: string): T | undefined {
    const r = this.v.getObject<{ value: T }>(this.coll, key);
    return r?.value;
  }
  /** Sets a value (one commit). */
  set(key: string, value: unknown): Promise<void> {
    return this.v.write((tx) => this.v.putObject(tx, this.coll, key, { key, value }));
  }
  /** Deletes a value; false when there was none. */
  delete(key: string): Promise<boolean> {
    return this.v.write((tx) => this.v.deleteObject(tx, this.coll, key));
  }
  /** Every entry (order unspecified). */
  entries<T>(): { key: string; value: T }[] {
    return this.v.listObjects<{ key: string; value: T }>(this.coll);
  }
}

/** Options of {@link FilesApi.put}. */
export interface FilePutOptions {
  /** Media type (default application/octet-stream). */
  readonly mime?: string;
  /** Replace this existing file (same id, new content). */
  readonly id?: string;
}

function checkName(name: string): void {
  if (name.trim() === '') throw VaultErrors.create('invalid_argument', 'A file needs a name.');
}

/** What {@link FilesApi.put} accepts. */
export type FileSource = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** Files stored in sealed 1 MiB chunks; memory use stays near one chunk however big the file. */
export class FilesApi {
  constructor(private readonly v: Vault) {}

  private dataId(f: { id: string; gen: string }): Buffer {
    return this.v.blindId('file-data', `${f.id}/${f.gen}`);
  }

  /**
   * Stores a file from bytes or a stream, as one commit. Replaces the file `opts.id` when given.
   */
  put(name: string, source: FileSource, opts: FilePutOptions = {}): Promise<FileInfo> {
    checkName(name);
    return this.v.writeAsync((tx) => this.putIn(tx, name, source, opts));
  }

  /**
   * Stores several files as ONE commit (one journal sync instead of one per file): for imports of
   * many small files.
   */
  putMany(
    items: readonly { name: string; source: FileSource; opts?: FilePutOptions }[],
  ): Promise<FileInfo[]> {
    for (const it of items) checkName(it.name);
    return this.v.writeAsync(async (tx) => {
      const out: FileInfo[] = [];
      for (const it of items) out.push(await this.putIn(tx, it.name, it.source, it.opts ?? {}));
      return out;
    });
  }

  private async putIn(
    tx: TxState,
    name: string,
    source: FileSource,
    opts: FilePutOptions,
  ): Promise<FileInfo> {
    const old =
      opts.id !== undefined ? this.v.getObject<StoredFile>(COLL_FILES, opts.id) : undefined;
    const now = this.v.now();
    const id = opts.id ?? newId('file');
    const gen = newId('gen');
    const dataId = this.dataId({ id, gen });
    let size = 0;
    let idx = 0;
    const pending = Buffer.alloc(CHUNK_BYTES);
    let fill = 0;
    const flush = () => {
      this.v.putChunk(tx, dataId, idx++, pending.subarray(0, fill));
      fill = 0;
    };
    const iterable: AsyncIterable<Uint8Array> | Iterable<Uint8Array> =
      source instanceof Uint8Array ? [source] : source;
    for await (const part of iterable) {
      let off = 0;
      while (off < part.length) {
        const n = Math.min(part.length - off, CHUNK_BYTES - fill);
        pending.set(part.subarray(off, off + n), fill);
        fill += n;
        off += n;
        if (fill === CHUNK_BYTES) {
          flush();
        }
      }
      size += part.length;
    }
    if (fill > 0 || idx === 0) {
      flush();
    }
    // SECURITY: the staging buffer held plaintext; wipe it.
    wipe(pending);
    if (old) this.v.deleteChunks(tx, this.dataId(old));
    const info: StoredFile = {
      id,
      name,
      size,
      mime: opts.mime ?? 'application/octet-stream',
      chunks: idx,
      createdAt: old?.createdAt ?? now,
      updatedAt: now,
      gen,
    };
    this.v.putObject(tx, COLL_FILES, id, info);
    tx.after.push(() => this.v.index()?.upsert('file', id, name, '', ''));
    return publicInfo(info);
  }

  /** Metadata of one file, or undefined. */
  stat(id: string): FileInfo | undefined {
    const f = this.v.getObject<StoredFile>(COLL_FILES, id);
    return f && publicInfo(f);
  }

  /** All intact files, by name. */
  list(): FileInfo[] {
    return this.v
      .listObjects<StoredFile>(COLL_FILES)
      .map(publicInfo)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Finds files by exact name. */
  byName(name: string): FileInfo[] {
    return this.list().filter((f) => f.name === name);
  }

  /**
   * Streams a file's content chunk by chunk. Each chunk is authenticated before it is yielded, and
   * bound to its file version and position by its associated data, so a missing, moved or swapped
   * chunk throws `corrupt`; the chunk count and size come from the authenticated file record.
   */
  async *read(id: string): AsyncGenerator<Buffer> {
    const f = this.v.getObject<StoredFile>(COLL_FILES, id);
    if (!f) throw VaultErrors.create('no_such_item', `No file ${id}.`, { subject: id });
    if (f.chunks !== Math.max(1, Math.ceil(f.size / CHUNK_BYTES))) {
      throw corrupt('record', id, `File ${f.name} has an impossible chunk count.`);
    }
    const dataId = this.dataId(f);
    for (let i = 0; i < f.chunks; i++) {
      yield this.v.readChunk(dataId, i, Math.min(CHUNK_BYTES, f.size - i * CHUNK_BYTES));
    }
  }

  /** The whole content (for small files). */
  async readAll(id: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of this.read(id)) parts.push(c);
    return Buffer.concat(parts);
  }

  /** Deletes a file and its chunks (one commit). */
  remove(id: string): Promise<void> {
    return this.v.write((tx) => {
      const f = this.v.getObject<StoredFile>(COLL_FILES, id);
      if (!f) throw VaultErrors.create('no_such_item', `No file ${id}.`, { subject: id });
      this.v.deleteChunks(tx, this.dataId(f));
      this.v.deleteObject(tx, COLL_FILES, id);
      tx.after.push(() => this.v.index()?.remove(id));
    });
  }
}

function publicInfo(f: StoredFile): FileInfo {
  const { gen: _gen, ...rest } = f;
  return rest;
}
