/**
 * The module system end to end in headless Chromium against a real daemon: Notes creates, edits,
 * searches and reopens a note across lock/unlock; a module is refused a capability it was not
 * granted; a module cannot reach any network (fetch/XHR/WebSocket/beacon to the daemon and to
 * 127.0.0.1). The host page runs the shell's real module host and broker (src/modules), bundled.
 * Screenshots go to artifacts/modules/.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, memorySink } from '@virtos/core';
import { Orchestrator } from '@virtos/orchestrator';
import { FakeProvisioner } from '@virtos/runtime';
import { createDaemon, VaultRegistryStore, type Daemon } from '@virtos/server';
import { buildModules, bundleScript, MODULES_ROOT } from '../scripts/build.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const PASS = 'module test passphrase';
const FAST_KDF = { alg: 'argon2id13', opslimit: 1, memlimit: 8192, parallelism: 1 } as const;
const ARTIFACTS = fileURLToPath(new URL('../../../artifacts/modules/', import.meta.url));
const SHELL_MODULES = fileURLToPath(new URL('../../shell/src/modules/', import.meta.url));

let daemon: Daemon;
let home: string;
let browser: Browser;
let page: Page;
let token: string;
/** Every HTTP request the daemon saw (its debug log). */
const seen = memorySink();
const consoleLines: string[] = [];

async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  tok = token,
): Promise<{ status: number; json: T }> {
  const res = await fetch(`${daemon.url}${path}`, {
    method,
    headers: {
      ...(tok && { authorization: `Bearer ${tok}` }),
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T };
}

/** The shell's module host + broker + manager, bundled for the test page. */
async function hostBundle(): Promise<string> {
  const r = await build({
    stdin: {
      contents: `
        import { ModuleManager, downloadInShell } from './index.ts';
        let token;
        const session = { authHeaders: () => (token ? { Authorization: 'Bearer ' + token } : {}) };
        const mounted = new Map();
        const decisions = [];
        const manager = new ModuleManager(session, { download: downloadInShell });
        window.harness = {
          setToken(t) { token = t; },
          async open(id) {
            mounted.get(id)?.dispose();
            const el = document.getElementById('win-' + id) ?? Object.assign(document.createElement('section'), { id: 'win-' + id, className: 'win' });
            el.innerHTML = '<header>' + id + '</header>';
            document.getElementById('desk').appendChild(el);
            const m = await manager.open(el, id, { onDecision: (d) => decisions.push(d) });
            mounted.set(id, m);
            await m.ready;
            return true;
          },
          decisions() { return decisions; },
          frames() { return document.querySelectorAll('iframe').length; },
          async lock() {
            await fetch('/api/session', { method: 'DELETE', headers: session.authHeaders() });
            token = undefined;
            for (const m of mounted.values()) m.dispose();
            mounted.clear();
            document.getElementById('desk').replaceChildren();
          },
        };`,
      resolveDir: SHELL_MODULES,
      loader: 'ts',
    },
    bundle: true,
    format: 'iife',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return r.outputFiles[0]?.text ?? '';
}

async function moduleFrame(id: string): Promise<Frame> {
  const handle = await page.waitForSelector(`#win-${id} iframe`);
  const f = await handle.contentFrame();
  if (!f) throw new Error(`no frame for ${id}`);
  await f.waitForSelector('#app[data-ready="true"]', { timeout: 15_000 });
  return f;
}

beforeAll(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  await buildModules();
  home = await mkdtemp(join(tmpdir(), 'virtos-modules-'));
  daemon = await createDaemon({
    home,
    port: 0,
    logger: createLogger({ sink: seen, level: 'debug' }),
    kdf: FAST_KDF,
    allowWeakKdf: true,
    makeOrchestrator: (vault, logger) =>
      new Orchestrator({
        store: new VaultRegistryStore(vault),
        provisioner: new FakeProvisioner(),
        logger,
        reconcileIntervalMs: 60_000,
      }),
  });
  await daemon.listen();
  const init = await api<{ token: string }>('POST', '/api/vault/init', { passphrase: PASS }, '');
  token = init.json.token;
  for (const [id, grants] of [
    ['notes', ['notes:read', 'notes:write', 'search']],
    ['security', ['audit:read']],
    ['files', ['files:read', 'files:write']],
  ] as const) {
    const r = await api('POST', '/api/modules', { builtin: id, grants });
    expect(r.status).toBe(201);
  }
  // The hostile probe asks for notes:read and files:read; the user grants neither.
  const probe = (await bundleScript(join(MODULES_ROOT, 'test', 'fixtures', 'probe.ts'))).replace(
    /DAEMON_URL/g,
    JSON.stringify(daemon.url),
  );
  const inst = await api('POST', '/api/modules', {
    package: {
      manifest: {
        id: 'probe',
        name: 'Probe',
        version: '0.0.1',
        entry: 'main.js',
        capabilities: ['notes:read', 'files:read'],
      },
      script: probe,
    },
    grants: [],
  });
  expect(inst.status).toBe(201);

  const host = await hostBundle();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
  page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
  // The test page stands in for the shell at the daemon's origin; everything else is the daemon.
  await page.route(`${daemon.url}/__test/host`, (route) =>
    route.fulfill({
      status: 200,
      headers: {
        'content-type': 'text/html; charset=utf-8',
        // The shell's own CSP must keep frame-src 'self' (docs/modules.md).
        'content-security-policy':
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-src 'self'",
      },
      body: `<!doctype html><html><head><style>
        body{margin:0;font:13px system-ui;background:#2b3445}#desk{display:flex;flex-wrap:wrap;gap:10px;padding:10px}
        .win{background:#fff;border-radius:8px;overflow:hidden;width:1160px;height:700px;display:flex;flex-direction:column}
        .win header{background:#dfe4ee;padding:4px 10px;font-weight:600}.win iframe{flex:1}
        </style></head><body><div id="desk"></div><script>${host.replace(/<\/script/gi, '<\\/script')}</script></body></html>`,
    }),
  );
  page.on('console', (m) => consoleLines.push(m.text()));
  await page.goto(`${daemon.url}/__test/host`);
  await page.evaluate(
    (t) => (window as unknown as { harness: { setToken(t: string): void } }).harness.setToken(t),
    token,
  );
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await daemon?.close();
  if (home) await rm(home, { recursive: true, force: true });
});

const harness = <T>(fn: string, arg?: unknown): Promise<T> =>
  page.evaluate(
    ([f, a]) =>
      (window as unknown as { harness: Record<string, (x: unknown) => unknown> }).harness[
        f as string
      ]?.(a),
    [fn, arg] as const,
  ) as Promise<T>;

describe('modules in a real browser', () => {
  it('Notes: create, edit, search, and reopen after lock/unlock', async () => {
    expect(existsSync(CHROMIUM)).toBe(true);
    await harness('open', 'notes');
    let f = await moduleFrame('notes');
    await f.click('#new');
    await f.fill('#title', 'Trip plan');
    await f.fill('#tags', 'travel, todo');
    await f.fill(
      '#body',
      '# Lisbon\n\n- [x] book **train**\n- pack <script>alert(1)</script>\n\nSee `ticket` and [map](https://example.org).',
    );
    await f.click('#save');
    await f.waitForSelector('#status:has-text("revision 1")');
    await f.fill(
      '#body',
      '# Lisbon\n\n- [x] book **train**\n- pack sunscreen\n\nSee `ticket` and [map](https://example.org).',
    );
    await f.click('#save');
    await f.waitForSelector('#status:has-text("revision 2")');
    // The preview escaped the script text; no script element exists in the preview.
    expect(await f.locator('#preview script').count()).toBe(0);
    expect(await f.locator('#preview strong').textContent()).toBe('train');
    await f.click('#history');
    await f.waitForSelector('.rev');
    await page.screenshot({ path: join(ARTIFACTS, 'notes-editor.png') });
    // A second note, then search narrows the list to the match.
    await f.click('#new');
    await f.fill('#title', 'Groceries');
    await f.fill('#body', 'oat milk');
    await f.click('#save');
    await f.waitForSelector('#status:has-text("Saved “Groceries”")');
    await f.fill('#search', 'sunscreen');
    await f.waitForFunction(() => document.querySelectorAll('#list .item').length === 1);
    expect(await f.locator('#list .item b').textContent()).toBe('Trip plan');
    await page.screenshot({ path: join(ARTIFACTS, 'notes-search.png') });

    // Lock: frames go, the old token is dead.
    await harness('lock');
    expect(await harness<number>('frames')).toBe(0);
    expect((await api('GET', '/api/notes')).status).toBe(401);
    const un = await api<{ token: string }>('POST', '/api/session', { passphrase: PASS }, '');
    token = un.json.token;
    await harness('setToken', token);
    await harness('open', 'notes');
    f = await moduleFrame('notes');
    await f.click('#list .item:has-text("Trip plan")');
    await f.waitForSelector('#status:has-text("Opened")');
    expect(await f.inputValue('#body')).toContain('pack sunscreen');
    expect(await f.inputValue('#tags')).toBe('todo, travel');
    expect(await f.locator('#status').textContent()).toContain('revision 2');
    await page.screenshot({ path: join(ARTIFACTS, 'notes-after-unlock.png') });
  });

  it('a module is refused what it was not granted, and cannot reach any network', async () => {
    const before = seen.entries.length;
    await harness('open', 'probe');
    const f = await moduleFrame('probe');
    const out = JSON.parse((await f.locator('#out').textContent()) ?? '{}') as Record<
      string,
      string
    >;
    await (await page.$('#win-probe'))?.screenshot({ path: join(ARTIFACTS, 'probe-refusals.png') });
    for (const k of [
      'fetch daemon',
      'fetch 127.0.0.1',
      'fetch relative',
      'xhr',
      'websocket',
      'parent DOM',
      'localStorage',
    ]) {
      expect(out[k], `${k}: ${out[k]}`).toMatch(/^blocked/);
    }
    // sendBeacon only queues (it returns true); the CSP refuses the request itself. Proof: the
    // daemon saw no request from the module other than its frame document, and Chromium logged
    // the refusals.
    await new Promise((r) => setTimeout(r, 500));
    const routes = seen.entries
      .slice(before)
      .filter((e) => e.msg === 'http request')
      .map((e) => `${String(e.fields['method'])} ${String(e.fields['route'])}`);
    expect(
      routes.filter(
        (r) =>
          !/^(GET \/api\/modules|POST \/api\/modules\/:id\/frame|GET \/modules\/frame\/:ticket|PUT \/api\/modules\/:id\/data\/:key|GET \/api\/notes)$/.test(
            r,
          ),
      ),
    ).toEqual([]);
    // The only /api/notes call is absent too: the broker refused it before any request.
    expect(routes).not.toContain('GET /api/notes');
    const refusals = consoleLines.filter((l) =>
      /Refused to connect|violates the following Content Security Policy directive: "connect-src/.test(
        l,
      ),
    );
    expect(refusals.length).toBeGreaterThanOrEqual(5);
    expect(out['notes.list code']).toBe('module.capability_denied');
    expect(out['storage.set (own data)']).toMatch(/^ALLOWED/);
    const d = await harness<{ method: string; allowed: boolean; moduleId: string }[]>('decisions');
    expect(
      d.filter((x) => x.moduleId === 'probe' && x.method === 'notes.list').every((x) => !x.allowed),
    ).toBe(true);
  });

  it('Security Center and Files render with real data', async () => {
    await fetch(`${daemon.url}/api/files?name=readme.txt&mime=text/plain`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: 'Hello from the vault.\n<b>not bold</b>',
    });
    await harness('open', 'files');
    const ff = await moduleFrame('files');
    await ff.click('#files a:has-text("readme.txt")');
    await ff.waitForSelector('#preview pre');
    expect(await ff.locator('#preview pre').textContent()).toContain('<b>not bold</b>');
    await (await page.$('#win-files'))?.screenshot({ path: join(ARTIFACTS, 'files.png') });
    await harness('open', 'security');
    const sf = await moduleFrame('security');
    expect(await sf.locator('#integrity').textContent()).toBe('Integrity OK');
    expect(await sf.locator('#audit').textContent()).toContain('module.install');
    await (await page.$('#win-security'))?.scrollIntoViewIfNeeded();
    await (
      await page.$('#win-security')
    )?.screenshot({ path: join(ARTIFACTS, 'security-center.png') });
  });
});
