/**
 * Viewer test helpers: a real daemon with the REAL runtime (createBuiltins, the image test cache),
 * an initialised vault, and a small page with the real DesktopViewer built by Vite and served by
 * the browser on the daemon's own origin with the daemon's own Content-Security-Policy.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { promisify } from 'node:util';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { nullLogger } from '@virtos/core';
import {
  DaemonClient,
  HttpTransport,
  createBuiltins,
  createDaemon,
  type Builtins,
  type Daemon,
} from '@virtos/server';
import { SHELL_DIR } from './harness.js';

const run = promisify(execFile);

/** The image layer cache shared by integration tests. */
export const IMAGE_CACHE =
  process.env['VIRTOS_TEST_IMAGE_CACHE'] ?? '/var/cache/virtos-test/images';
/** The test vault's passphrase. */
export const VIEWER_PASS = 'viewer test passphrase';

/**
 * Why this machine cannot run the viewer test, or undefined. Applies the host remedy for crun
 * (`virtos doctor --fix`, on an empty state dir of its own so nobody else's state is touched).
 */
export async function viewerSkipReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (namespaces, mounts, cgroups)';
  if (!existsSync('/usr/bin/chromium')) return 'needs Debian chromium at /usr/bin/chromium';
  const state = `/run/virtos-test-doctor-${randomBytes(4).toString('hex')}`;
  const bin = join(SHELL_DIR, '..', 'cli', 'bin', 'virtos.js');
  try {
    await run(process.execPath, [bin, 'doctor', '--fix', '--json', '--state-dir', state], {
      env: { ...process.env, VIRTOS_HOME: await mkdtemp(join(tmpdir(), 'virtos-doc-')) },
    });
    return undefined;
  } catch (e) {
    return `no usable OCI runtime (virtos doctor: ${(e as Error).message.split('\n')[0]})`;
  } finally {
    await rm(state, { recursive: true, force: true });
  }
}

/** A daemon over the real runtime with an unlocked vault. */
export interface RealDaemon {
  readonly daemon: Daemon;
  readonly builtins: Builtins;
  readonly url: string;
  readonly client: DaemonClient;
  readonly token: string;
  close(): Promise<void>;
}

export async function startRealDaemon(): Promise<RealDaemon> {
  const home = await mkdtemp(join(tmpdir(), 'virtos-viewer-'));
  const stateDir = `/run/virtos-test-viewer-${randomBytes(4).toString('hex')}`;
  const builtins = await createBuiltins({
    home,
    stateDir,
    imageCacheDir: IMAGE_CACHE,
    logger: nullLogger,
  });
  const daemon = await createDaemon({
    home,
    port: 0,
    logger: nullLogger,
    // Tests only: a fast Argon2id below the production floor.
    kdf: { alg: 'argon2id13', opslimit: 1, memlimit: 8192, parallelism: 1 },
    allowWeakKdf: true,
    makeOrchestrator: builtins.makeOrchestrator,
  });
  const url = await daemon.listen();
  const { token } = await new DaemonClient(new HttpTransport(url, undefined)).initVault(
    VIEWER_PASS,
  );
  const client = new DaemonClient(new HttpTransport(url, token));
  return {
    daemon,
    builtins,
    url,
    client,
    token,
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

/** The built test page: file name -> contents, and the entry's script and styles. */
export interface ViewerPageBuild {
  readonly files: ReadonlyMap<string, Buffer>;
  readonly entry: string;
  readonly css: readonly string[];
}

/** Base path the page is served under (the daemon never sees these requests). */
export const PAGE_BASE = '/__viewer-test/';

/**
 * Builds a test page (default test/helpers/viewer-page.ts; `page` names another file in
 * test/helpers/) with the shell's Svelte setup (production mode).
 */
export async function buildViewerPage(page = 'viewer-page.ts'): Promise<ViewerPageBuild> {
  const outDir = await mkdtemp(join(tmpdir(), 'virtos-viewer-page-'));
  try {
    await build({
      configFile: false,
      root: SHELL_DIR,
      base: PAGE_BASE,
      logLevel: 'warn',
      mode: 'production',
      plugins: [svelte()],
      build: {
        target: 'es2022',
        outDir,
        emptyOutDir: true,
        sourcemap: false,
        manifest: 'manifest.json',
        modulePreload: { polyfill: false },
        assetsInlineLimit: 0,
        rollupOptions: { input: { page: join(SHELL_DIR, 'test/helpers', page) } },
      },
    });
    const manifest = JSON.parse(await readFile(join(outDir, 'manifest.json'), 'utf8')) as Record<
      string,
      { file: string; isEntry?: boolean; css?: string[] }
    >;
    const entry = Object.values(manifest).find((m) => m.isEntry);
    if (!entry) throw new Error(`${page}: the build has no entry`);
    const files = new Map<string, Buffer>();
    const walk = async (dir: string, rel: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        if (e.isDirectory()) await walk(join(dir, e.name), `${rel}${e.name}/`);
        else files.set(`${rel}${e.name}`, await readFile(join(dir, e.name)));
      }
    };
    await walk(outDir, '');
    return { files, entry: entry.file, css: entry.css ?? [] };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

/**
 * Chromium for the test page: the flags HOST-NOTES.md lists, plus Local Network Access checks off.
 * The page is handed to the browser by the test (`page.route`), so Chromium cannot know it came
 * from a loopback server and treats it as public, then refuses its WebSocket to 127.0.0.1. The
 * real shell is served by the daemon itself and needs no such flag (the shell test part shows it).
 */
export function launchChromiumForTestPage(): Promise<Browser> {
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
      '--disable-features=LocalNetworkAccessChecks',
    ],
  });
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
};

/**
 * Serves the built page at `<daemon>/__viewer-test/` in this browser page, with the
 * Content-Security-Policy the daemon sends for the shell (read from its `/` answer), so the
 * viewer runs under the real policy.
 */
export async function servePage(page: Page, daemonUrl: string, b: ViewerPageBuild): Promise<void> {
  const csp = (await fetch(`${daemonUrl}/`)).headers.get('content-security-policy');
  if (!csp) throw new Error('the daemon sent no Content-Security-Policy for /');
  const html =
    '<!doctype html><html><head><meta charset="utf-8"><title>viewer test</title>' +
    b.css.map((c) => `<link rel="stylesheet" href="${PAGE_BASE}${c}">`).join('') +
    `<script type="module" src="${PAGE_BASE}${b.entry}"></script></head><body></body></html>`;
  await page.route(`${daemonUrl}${PAGE_BASE}**`, async (route) => {
    const path = new URL(route.request().url()).pathname.slice(PAGE_BASE.length);
    const body = path === '' || path === 'index.html' ? Buffer.from(html) : b.files.get(path);
    if (!body) return route.fulfill({ status: 404, body: 'not found' });
    const type = TYPES[extname(path || 'index.html')] ?? 'application/octet-stream';
    return route.fulfill({
      status: 200,
      body,
      headers: { 'content-type': type, 'content-security-policy': csp },
    });
  });
}
