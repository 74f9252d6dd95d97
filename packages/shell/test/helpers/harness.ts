/**
 * Browser-test helpers: a real daemon (the server package's createDaemon) on a temporary
 * VIRTOS_HOME and a random port, with a stub orchestrator (the shell tests need the vault and the
 * session routes, not environments), the built shell, and headless Chromium (Debian's, through
 * playwright-core) with the flags from HOST-NOTES.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type CDPSession,
  type Page,
} from 'playwright-core';
import { nullLogger } from '@virtos/core';
import { createDaemon, type Daemon, type OrchestratorFactory } from '@virtos/server';

/** packages/shell */
export const SHELL_DIR = fileURLToPath(new URL('../../', import.meta.url));
export const ARTIFACTS = fileURLToPath(new URL('../../../../artifacts/', import.meta.url));

/**
 * Builds the shell when dist/ is missing or older than any package's sources (the same rule as
 * scripts/setup.sh), so the bundle and the canary manifest match the code under test.
 */
export function ensureBuilt(): void {
  const manifest = join(SHELL_DIR, 'dist', 'canary-manifest.json');
  if (existsSync(manifest) && !isNewerThan(join(SHELL_DIR, '..'), statSync(manifest).mtimeMs)) {
    return;
  }
  execFileSync('npm', ['run', 'build', '-w', '@virtos/shell'], {
    cwd: join(SHELL_DIR, '..', '..'),
    stdio: 'inherit',
    // Vitest sets NODE_ENV=test, which would make Vite build a development bundle.
    env: { ...process.env, NODE_ENV: 'production' },
  });
}

function isNewerThan(packagesDir: string, t: number): boolean {
  const walk = (d: string): boolean => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory() ? walk(p) : statSync(p).mtimeMs > t) return true;
    }
    return false;
  };
  for (const pkg of readdirSync(packagesDir)) {
    const src = join(packagesDir, pkg, 'src');
    if (existsSync(src) && walk(src)) return true;
  }
  return false;
}

/** The orchestrator stand-in: nothing to reconcile, no environments. */
const stubOrchestrator: OrchestratorFactory = () =>
  ({
    start: async () => {},
    dispose: () => {},
    shutdown: async () => {},
    metrics: () => ({ byState: {}, queueLength: 0, provisioningSeconds: [] }),
    // The daemon follows transitions to close streams of suspended environments.
    onDidChange: () => ({ dispose: () => {} }),
  }) as unknown as Awaited<ReturnType<OrchestratorFactory>>;

/** A listening daemon and where the browser reaches it (`localhost`, which WebAuthn accepts). */
export interface TestDaemon {
  readonly daemon: Daemon;
  readonly home: string;
  readonly url: string;
  close(): Promise<void>;
}

/** Starts a daemon; `realKdf` keeps the production Argon2id (benches), tests use a fast one. */
export async function startDaemon(opts: { realKdf?: boolean } = {}): Promise<TestDaemon> {
  const home = await mkdtemp(join(tmpdir(), 'virtos-shell-'));
  const daemon = await createDaemon({
    home,
    port: 0,
    logger: nullLogger,
    // Tests only: a fast Argon2id below the production floor.
    ...(opts.realKdf !== true && {
      kdf: { alg: 'argon2id13', opslimit: 1, memlimit: 8192, parallelism: 1 } as const,
      allowWeakKdf: true,
    }),
    makeOrchestrator: stubOrchestrator,
  });
  const listened = await daemon.listen();
  const url = listened.replace('127.0.0.1', 'localhost');
  return {
    daemon,
    home,
    url,
    async close() {
      await daemon.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** Headless Chromium with the flags HOST-NOTES.md lists. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Adds a CDP virtual authenticator with PRF (ctap2.1, internal, resident keys, UV). */
export async function addVirtualAuthenticator(page: Page): Promise<CDPSession> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      ctap2Version: 'ctap2_1',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      hasPrf: true,
      automaticPresenceSimulation: true,
    },
  });
  return cdp;
}

/** Types `text` on the embedded keyboard (by key names, so a shuffled layout works too). */
export async function typeOnKeyboard(page: Page, text: string, scope = 'body'): Promise<void> {
  const root = page.locator(scope).locator('[aria-label="embedded keyboard"]').first();
  for (const ch of text) {
    if (ch === ' ') {
      await root.getByRole('button', { name: 'space', exact: true }).dispatchEvent('pointerdown');
      continue;
    }
    const isUpper = ch !== ch.toLowerCase();
    const isSymbol = !/[a-zA-Z0-9]/.test(ch);
    if (isUpper)
      await root.getByRole('button', { name: 'shift', exact: true }).dispatchEvent('pointerdown');
    if (isSymbol)
      await root.getByRole('button', { name: 'symbols', exact: true }).dispatchEvent('pointerdown');
    await root.getByRole('button', { name: `key ${ch}`, exact: true }).dispatchEvent('pointerdown');
    if (isSymbol)
      await root.getByRole('button', { name: 'symbols', exact: true }).dispatchEvent('pointerdown');
  }
}

/** Saves a screenshot to artifacts/shell-<name>.png. */
export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `shell-${name}.png`) });
}

export type { Browser, BrowserContext, Page };
