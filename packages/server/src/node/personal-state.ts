/**
 * Personal mode: one user, one vault, and the orchestrator whose registry lives inside that vault.
 * The orchestrator exists only while the vault is unlocked: unlocking starts it (its start
 * reconciles every record against the runtime's truth), locking stops it before the keys are
 * wiped, so no registry write is ever attempted on a locked vault.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Emitter, type Event, type Logger } from '@virtos/core';
import {
  FileDeviceStore,
  Vault,
  VaultErrors,
  type KdfParams,
  type Unlocker,
  type VaultOptions,
} from '@virtos/vault';
import { ServerErrors } from '../errors.js';

/** What the state needs from the service it runs while unlocked (the orchestrator). */
export interface UnlockedService {
  start(): Promise<void>;
  dispose(): void | Promise<void>;
  /** Graceful stop that waits for background work (preferred over dispose when present). */
  shutdown?(): Promise<void>;
}

/** Options of {@link PersonalState}. */
export interface PersonalStateOptions<S extends UnlockedService> {
  /** The vault file, e.g. `$VIRTOS_HOME/vault.virtos`. */
  readonly vaultPath: string;
  /** Where the per-device chain heads live (rollback detection), e.g. `$VIRTOS_HOME/device`. */
  readonly deviceDir: string;
  /** Makes the service that runs while the vault is unlocked. */
  readonly makeService: (vault: Vault) => S | Promise<S>;
  readonly logger: Logger;
  /** Argon2id parameters for new vaults (tests pass weak ones with `allowWeakKdf`). */
  readonly kdf?: KdfParams;
  readonly allowWeakKdf?: boolean;
}

/** The vault and the service behind it, with unlock and lock serialized. */
export class PersonalState<S extends UnlockedService> {
  private vault: Vault | undefined;
  private service: S | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly lockEmitter = new Emitter<void>();

  /** Fires after the vault locked (by request, on idle, or at shutdown). */
  readonly onDidLock: Event<void> = this.lockEmitter.event;

  constructor(private readonly options: PersonalStateOptions<S>) {}

  /** True when a vault file exists. */
  hasVault(): boolean {
    return existsSync(this.options.vaultPath);
  }

  /** True while the vault is unlocked and the service runs. */
  get isUnlocked(): boolean {
    return this.vault?.isUnlocked === true && this.service !== undefined;
  }

  /** The running service; throws `server.locked` (or `server.no_vault`) otherwise. */
  current(): S {
    if (this.service && this.vault?.isUnlocked) return this.service;
    if (!this.hasVault()) {
      throw ServerErrors.create('no_vault', 'There is no vault yet.', {
        hint: 'Create one: virtos init (or POST /api/vault/init).',
      });
    }
    throw ServerErrors.create('locked', 'The vault is locked.', {
      hint: 'Unlock it: virtos unlock (or POST /api/session).',
    });
  }

  /**
   * The unlocked vault, for routes that read and write user data (notes, files, settings,
   * modules); throws like {@link current} when locked.
   */
  currentVault(): Vault {
    // SECURITY: the same gate as current(): no vault handle leaves while the keys are wiped.
    this.current();
    return this.vault as Vault;
  }

  /** Creates the vault with a passphrase and a recovery key, unlocked. Returns the recovery key. */
  init(passphrase: string): Promise<{ recoveryKey: string }> {
    return this.serial(async () => {
      if (this.hasVault()) {
        throw ServerErrors.create('vault_exists', 'A vault exists already.', {
          subject: this.options.vaultPath,
          hint: 'Unlock it with POST /api/session, or move it away to start afresh.',
        });
      }
      await mkdir(dirname(this.options.vaultPath), { recursive: true, mode: 0o700 });
      const v = await Vault.create(this.options.vaultPath, passphrase, this.vaultOptions());
      const { recoveryKey } = v.addRecoveryKey();
      this.vault = v;
      await this.startService(v);
      return { recoveryKey };
    });
  }

  /**
   * Unlocks the vault (opening it first) and starts the service. When it is unlocked already, the
   * secret is still checked (on a second, read-only handle), so that a session is never handed out
   * for a wrong secret.
   */
  unlock(unlocker: Unlocker): Promise<void> {
    return this.serial(async () => {
      if (this.isUnlocked) {
        // SECURITY: Vault.unlock on an unlocked vault succeeds without looking at the secret; a
        // separate handle without device store derives the key and throws for a wrong one.
        const probe = Vault.open(this.options.vaultPath, { idleLockMs: 0 });
        try {
          await probe.unlock(unlocker);
        } finally {
          probe.close();
        }
        return;
      }
      if (!this.hasVault()) this.current();
      this.vault ??= Vault.open(this.options.vaultPath, this.vaultOptions());
      await this.vault.unlock(unlocker);
      await this.startService(this.vault);
    });
  }

  /** Stops the service and wipes the keys. Safe when locked. */
  lock(): Promise<void> {
    return this.serial(async () => {
      const wasUnlocked = this.vault?.isUnlocked === true;
      await this.stopService();
      this.vault?.lock('manual');
      if (wasUnlocked) this.lockEmitter.fire();
    });
  }

  /** Locks and closes the file (shutdown). */
  close(): Promise<void> {
    return this.serial(async () => {
      const wasUnlocked = this.vault?.isUnlocked === true;
      await this.stopService();
      this.vault?.close();
      this.vault = undefined;
      if (wasUnlocked) this.lockEmitter.fire();
    });
  }

  private vaultOptions(): VaultOptions {
    return {
      deviceStore: new FileDeviceStore(this.options.deviceDir),
      // The daemon decides when to lock (session idle); the vault's own timer would fire while
      // environments and the reconciler keep using it.
      idleLockMs: 0,
      ...(this.options.kdf && { kdf: this.options.kdf }),
      ...(this.options.allowWeakKdf && { allowWeakKdf: true }),
    };
  }

  private async startService(v: Vault): Promise<void> {
    const s = await this.options.makeService(v);
    try {
      await s.start();
    } catch (e) {
      await s.dispose();
      v.lock('manual');
      throw e;
    }
    this.service = s;
    this.options.logger.info('vault unlocked; orchestrator started');
  }

  private async stopService(): Promise<void> {
    const s = this.service;
    this.service = undefined;
    if (s) {
      if (s.shutdown) await s.shutdown();
      else await s.dispose();
      this.options.logger.info('orchestrator stopped; vault locking');
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** True for errors that mean "wrong secret" (counted by the unlock rate limit). */
export function isWrongSecret(e: unknown): boolean {
  return (
    VaultErrors.is(e, 'wrong_passphrase') ||
    VaultErrors.is(e, 'wrong_recovery_key') ||
    VaultErrors.is(e, 'wrong_passkey') ||
    VaultErrors.is(e, 'invalid_recovery_key')
  );
}
