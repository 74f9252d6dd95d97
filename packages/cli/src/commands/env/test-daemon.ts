/**
 * For the CLI's real-runtime integration tests: whether this host can run them, and a daemon with
 * the real runtime in this process (weak KDF, an initialised vault, the session file the CLI reads).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nullLogger } from '@virtos/core';
import { applyCrunCgroupRemedy, probeRuntime } from '@virtos/runtime';
import {
  DaemonClient,
  HttpTransport,
  createBuiltins,
  createDaemon,
  homeFiles,
  writePrivateJson,
} from '@virtos/server';

/** The image cache the integration tests share (layers are built once per machine). */
export const TEST_IMAGE_CACHE =
  process.env['VIRTOS_TEST_IMAGE_CACHE'] ?? '/var/cache/virtos-test/images';

/** Why real-runtime tests cannot run here, or undefined when they can. */
export async function realRuntimeSkipReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (namespaces, mounts, cgroups)';
  await applyCrunCgroupRemedy().catch(() => []);
  const ok =
    (await probeRuntime('crun')).status === 'ok' || (await probeRuntime('runc')).status === 'ok';
  return ok ? undefined : 'no usable OCI runtime (crun or runc)';
}

/** A daemon in this process with an unlocked vault; `close()` terminates what it ran. */
export interface TestDaemon {
  readonly home: string;
  readonly client: DaemonClient;
  close(): Promise<void>;
}

/** Starts a daemon whose home is a fresh temp dir named after `name`. */
export async function startTestDaemon(name: string): Promise<TestDaemon> {
  const home = await mkdtemp(join(tmpdir(), `virtos-cli-${name}-`));
  const stateDir = `/run/virtos-test-cli-${randomBytes(4).toString('hex')}`;
  const builtins = await createBuiltins({
    home,
    stateDir,
    imageCacheDir: TEST_IMAGE_CACHE,
    logger: nullLogger,
  });
  const daemon = await createDaemon({
    home,
    port: 0,
    logger: nullLogger,
    kdf: { alg: 'argon2id13', opslimit: 1, memlimit: 8192, parallelism: 1 },
    allowWeakKdf: true,
    makeOrchestrator: builtins.makeOrchestrator,
  });
  const url = await daemon.listen();
  const { token } = await new DaemonClient(new HttpTransport(url, undefined)).initVault(
    'pass phrase',
  );
  await writePrivateJson(homeFiles(home).session, { url, token });
  const client = new DaemonClient(new HttpTransport(url, token));
  return {
    home,
    client,
    async close() {
      for (const r of await client.list().catch(() => [])) {
        if (r.state !== 'terminated') await client.terminate(r.id).catch(() => undefined);
      }
      await daemon.close();
      builtins.dispose();
      await rm(stateDir, { recursive: true, force: true }).catch(() => undefined);
      await rm(home, { recursive: true, force: true });
    },
  };
}
