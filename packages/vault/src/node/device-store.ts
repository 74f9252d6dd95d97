/**
 * The per-device record of the last chain head seen for each vault: small JSON files in a
 * directory (`$VIRTOS_HOME/device/`), holding a vault id, a counter and a hash. No user data.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceHead, DeviceStore } from './vault.js';

/** A {@link DeviceStore} in a directory, written atomically (temp file + rename). */
export class FileDeviceStore implements DeviceStore {
  constructor(private readonly dir: string) {}

  private file(vaultId: string): string {
    return join(this.dir, `${vaultId.replace(/[^A-Za-z0-9_-]/g, '_')}.head.json`);
  }

  /** The last head seen, or undefined when this device never opened the vault. */
  read(vaultId: string): DeviceHead | undefined {
    try {
      const j = JSON.parse(readFileSync(this.file(vaultId), 'utf8')) as Partial<DeviceHead>;
      if (typeof j.counter === 'number' && typeof j.head === 'string') {
        return { counter: j.counter, head: j.head };
      }
    } catch {
      /* no record yet, or an unreadable one: treated as never seen */
    }
    return undefined;
  }

  /** Records the head (the vault decides when; it never moves it back without consent). */
  write(vaultId: string, head: DeviceHead): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const f = this.file(vaultId);
    const tmp = `${f}.${process.pid}.tmp`;
    writeFileSync(
      tmp,
      JSON.stringify({ vaultId, ...head, seenAt: new Date().toISOString() }) + '\n',
      {
        mode: 0o600,
      },
    );
    renameSync(tmp, f);
  }
}

/** A {@link DeviceStore} in memory (tests, daemons that persist elsewhere). */
export class MemoryDeviceStore implements DeviceStore {
  private readonly heads = new Map<string, DeviceHead>();
  read(vaultId: string): DeviceHead | undefined {
    return this.heads.get(vaultId);
  }
  write(vaultId: string, head: DeviceHead): void {
    this.heads.set(vaultId, head);
  }
}
