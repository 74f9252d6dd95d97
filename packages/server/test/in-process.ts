/**
 * An in-process daemon over the REAL runtime (builtins.ts), with a fresh home and runtime state
 * dir and an initialised vault; shared by the real-runtime integration tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nullLogger } from '@virtos/core';
import type { EnvironmentRecord } from '@virtos/orchestrator';
import {
  DaemonClient,
  HttpTransport,
  createBuiltins,
  createDaemon,
  homeFiles,
  writePrivateJson,
  type Builtins,
  type Daemon,
} from '../src/index.js';
import { IMAGE_CACHE, testStateDir } from './real-runtime.js';

/** Weak Argon2id parameters for test vaults. */
export const FAST_KDF = { alg: 'argon2id13', opslimit: 1, memlimit: 8192, parallelism: 1 } as const;
/** The test vault's passphrase. */
export const PASS = 'integration passphrase';

export interface InProcess {
  home: string;
  stateDir: string;
  builtins: Builtins;
  daemon: Daemon;
  client: DaemonClient;
  token: string;
}

export async function startInProcess(
  hosts?: Parameters<typeof createBuiltins>[0]['hosts'],
): Promise<InProcess> {
  const home = await mkdtemp(join(tmpdir(), 'virtos-srv-it-'));
  const stateDir = testStateDir();
  const builtins = await createBuiltins({
    home,
    stateDir,
    imageCacheDir: IMAGE_CACHE,
    logger: nullLogger,
    ...(hosts && { hosts }),
  });
  const daemon = await createDaemon({
    home,
    port: 0,
    logger: nullLogger,
    kdf: FAST_KDF,
    allowWeakKdf: true,
    makeOrchestrator: builtins.makeOrchestrator,
  });
  const url = await daemon.listen();
  const { token } = await new DaemonClient(new HttpTransport(url, undefined)).initVault(PASS);
  await writePrivateJson(homeFiles(home).session, { url, token });
  return {
    home,
    stateDir,
    builtins,
    daemon,
    client: new DaemonClient(new HttpTransport(url, token)),
    token,
  };
}

export async function stopInProcess(p: InProcess | undefined): Promise<void> {
  if (!p) return;
  for (const r of await p.client.list().catch(() => [] as EnvironmentRecord[])) {
    if (r.state !== 'terminated') await p.client.terminate(r.id).catch(() => undefined);
  }
  await p.daemon.close();
  p.builtins.dispose();
  await rm(p.stateDir, { recursive: true, force: true }).catch(() => undefined);
  await rm(p.home, { recursive: true, force: true });
}

export async function waitFor(
  client: DaemonClient,
  id: string,
  pred: (r: EnvironmentRecord) => boolean,
  ms = 60_000,
): Promise<EnvironmentRecord> {
  const end = Date.now() + ms;
  for (;;) {
    const r = await client.get(id);
    if (pred(r)) return r;
    if (Date.now() > end) throw new Error(`timeout waiting on ${id}: ${r.state} ${r.reason ?? ''}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}
