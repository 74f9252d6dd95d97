/**
 * Test helpers: a daemon on a temporary VIRTOS_HOME with a fast (weak, tests-only) KDF, the fake
 * provisioner, and the real vault-backed registry.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nullLogger, type Logger } from '@virtos/core';
import { Orchestrator, type Provisioner } from '@virtos/orchestrator';
import { FakeProvisioner } from '@virtos/runtime';
import { createDaemon, VaultRegistryStore, type Daemon, type DaemonOptions } from '../src/index.js';

/** Argon2id parameters far below the floor: for tests only. */
export const FAST_KDF = { alg: 'argon2id13', opslimit: 1, memlimit: 8192, parallelism: 1 } as const;
export const PASS = 'correct horse battery staple';

export interface TestDaemon {
  readonly daemon: Daemon;
  readonly home: string;
  readonly provisioner: Provisioner;
  /** The Host header inject requests send. */
  readonly host: string;
  close(): Promise<void>;
}

/** A daemon (not listening) for `app.inject` tests. */
export async function makeTestDaemon(
  extra: Partial<DaemonOptions> & { provisioner?: Provisioner; logger?: Logger } = {},
): Promise<TestDaemon> {
  const home = await mkdtemp(join(tmpdir(), 'virtos-server-'));
  const provisioner = extra.provisioner ?? new FakeProvisioner();
  const daemon = await createDaemon({
    home,
    port: 7460,
    logger: extra.logger ?? nullLogger,
    kdf: FAST_KDF,
    allowWeakKdf: true,
    makeOrchestrator: (vault, logger) =>
      new Orchestrator({
        store: new VaultRegistryStore(vault),
        provisioner,
        logger,
        reconcileIntervalMs: 60_000,
      }),
    ...extra,
  });
  await daemon.app.ready();
  return {
    daemon,
    home,
    provisioner,
    host: '127.0.0.1:7460',
    async close() {
      await daemon.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}
