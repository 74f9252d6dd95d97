import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SecretSource } from './secrets.js';

describe('SecretSource', () => {
  it('hands out successive lines of a file descriptor and refuses an empty one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'secrets-'));
    const f = join(dir, 'p');
    writeFileSync(f, 'first secret\r\nsecond\n');
    const fd = openSync(f, 'r');
    try {
      const s = new SecretSource();
      expect(await s.read('passphrase', fd)).toBe('first secret');
      expect(await s.read('new passphrase', fd)).toBe('second');
      await expect(s.read('passphrase', fd)).rejects.toThrow(/No passphrase on fd/);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says which descriptor could not be read', async () => {
    await expect(new SecretSource().read('passphrase', 987)).rejects.toThrow(/fd 987/);
  });
});
