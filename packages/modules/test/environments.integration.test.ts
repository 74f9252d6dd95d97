/**
 * An environment request flows to a running desktop shown in a window: in headless Chromium on
 * the REAL shell served by a real daemon over the REAL runtime (crun, netns, Xvnc; image layers
 * from the test cache). The Environments module is installed in the Module Manager, a request is
 * typed, the composed spec and findings are reviewed, a clarifying question answered, the
 * environment provisioned with live progress (events relayed by the shell), opened in an
 * environment window whose viewer connects and paints, suspended, resumed and terminated.
 * Screenshots go to artifacts/modules/.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Request } from 'playwright-core';
import { nullLogger } from '@virtos/core';
import { applyCrunCgroupRemedy, probeRuntime } from '@virtos/runtime';
import { createBuiltins, createDaemon, type Builtins, type Daemon } from '@virtos/server';
import { buildModules } from '../scripts/build.js';
import {
  ARTIFACTS,
  ensureShellBuilt,
  launchChromium,
  moduleFrame,
  openApp,
  shellPage,
  typeOnKeyboard,
  unlock,
  type Browser,
  type Frame,
  type Page,
} from './shell-page.js';

const PASS = 'environments test passphrase';
const FAST_KDF = { alg: 'argon2id13', opslimit: 1, memlimit: 8192, parallelism: 1 } as const;
const IMAGE_CACHE = process.env['VIRTOS_TEST_IMAGE_CACHE'] ?? '/var/cache/virtos-test/images';

async function skipReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (namespaces, mounts, cgroups)';
  await applyCrunCgroupRemedy().catch(() => []);
  const [crun, runc] = [await probeRuntime('crun'), await probeRuntime('runc')];
  if (crun.status !== 'ok' && runc.status !== 'ok') return `no OCI runtime: ${crun.reason}`;
  return undefined;
}
const skip = await skipReason();

describe.skipIf(skip !== undefined)(
  `Environments module in the shell (real runtime)${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let home: string;
    let stateDir: string;
    let builtins: Builtins;
    let daemon: Daemon;
    let url: string;
    let token: string;
    let browser: Browser;
    let page: Page;
    let envId = '';
    const errors: string[] = [];
    const requests: { url: string; auth: string; accept: string }[] = [];

    const api = async <T>(method: string, path: string, body?: unknown) => {
      const res = await fetch(`${daemon.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      return { status: res.status, json: (await res.json()) as T };
    };
    const shot = (name: string) =>
      page.screenshot({ path: join(ARTIFACTS, `environments-${name}.png`) });

    beforeAll(async () => {
      await mkdir(ARTIFACTS, { recursive: true });
      ensureShellBuilt();
      await buildModules();
      home = await mkdtemp(join(tmpdir(), 'virtos-envmod-'));
      stateDir = `/run/virtos-test-envmod-${process.pid}`;
      builtins = await createBuiltins({
        home,
        stateDir,
        imageCacheDir: IMAGE_CACHE,
        logger: nullLogger,
      });
      daemon = await createDaemon({
        home,
        port: 0,
        logger: nullLogger,
        kdf: FAST_KDF,
        allowWeakKdf: true,
        makeOrchestrator: builtins.makeOrchestrator,
      });
      url = (await daemon.listen()).replace('127.0.0.1', 'localhost');
      const init = await fetch(`${daemon.url}/api/vault/init`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ passphrase: PASS }),
      });
      token = ((await init.json()) as { token: string }).token;
      browser = await launchChromium();
      page = await shellPage(browser, errors);
      page.on('request', (r) => {
        const h = r.headers();
        requests.push({ url: r.url(), auth: h['authorization'] ?? '', accept: h['accept'] ?? '' });
      });
      await unlock(page, url, PASS);
    }, 300_000);

    afterAll(async () => {
      await browser?.close();
      if (daemon && envId) await api('DELETE', `/api/environments/${envId}`).catch(() => undefined);
      await daemon?.close();
      builtins?.dispose();
      await rm(stateDir, { recursive: true, force: true }).catch(() => undefined);
      if (home) await rm(home, { recursive: true, force: true });
    }, 120_000);

    it('installs the Environments module in the Module Manager and opens it from the launcher', async () => {
      const mm = await openApp(page, 'shell:modules');
      const card = mm.locator('[data-catalog="environments"]');
      await card.waitFor();
      expect(await card.locator('input[data-cap="environments:manage"]').isChecked()).toBe(true);
      await card.locator('[data-action="install"]').click();
      await mm.locator('[data-module="environments"]').waitFor();
      expect(
        await mm.locator('[data-module="environments"] .cap.granted').allTextContents(),
      ).toEqual(['✓ environments:manage']);
      await mm.locator('.close').click();
      await openApp(page, 'module:environments');
      await moduleFrame(page, 'environments');
    });

    let frame: Frame;

    it('a typed request shows the composed spec and findings; a question is answered', async () => {
      frame = await moduleFrame(page, 'environments');
      await frame.fill('#request', 'a debian desktop with xterm and 2');
      await frame.click('#compose');
      await frame.waitForSelector('#verdict');
      // "2" has no unit: the composer asks what it is; Provision waits for the answer.
      expect(await frame.textContent('#verdict')).toMatch(/question/);
      expect(await frame.isDisabled('#provision')).toBe(true);
      const question = frame.locator('.finding[data-kind="ambiguity"]');
      expect(await question.textContent()).toContain("What is '2'");
      await shot('question');
      await question.locator('button', { hasText: '2 GiB of memory' }).click();
      await frame.waitForSelector('#verdict.ok');
      expect(await frame.textContent('#spec tr[data-field="display"] td')).toBe('desktop');
      expect(await frame.textContent('#spec tr[data-field="apps"] td')).toContain('xterm');
      expect(await frame.textContent('#spec tr[data-field="resources"] td')).toContain(
        '2048 MiB memory',
      );
      expect(await frame.textContent('#review .answers')).toContain('2 GiB of memory');
      await shot('review');
    });

    it('provisions with live progress to running, and Open shows the desktop in a window', async () => {
      await frame.click('#provision');
      const progress = frame.locator('#progress [data-env]');
      await progress.waitFor();
      envId = (await progress.getAttribute('data-env')) ?? '';
      expect(envId).not.toBe('');
      await frame.waitForSelector('#progress [data-state="running"]', { timeout: 120_000 });
      // The progress lines came as relayed events: provisioning and running transitions.
      const lines = await frame.locator('#progress .log li').allTextContents();
      expect(lines.some((l) => l.includes('→ provisioning'))).toBe(true);
      expect(lines.some((l) => l.includes('→ running'))).toBe(true);
      await frame.waitForSelector(`#env-list tr[data-env="${envId}"][data-state="running"]`);
      await shot('running');

      await frame.click('#progress [data-action="open"]');
      const win = page.locator(`[data-window="env:${envId}"]`);
      await win.waitFor();
      await win.locator('[data-testid="env-viewer"]').waitFor();
      // The viewer connected through the gateway and painted the desktop: a canvas with pixels
      // that are not all one colour.
      const canvas = win.locator('[data-testid="env-viewer"] canvas').first();
      await canvas.waitFor({ timeout: 30_000 });
      await expect
        .poll(
          () =>
            canvas.evaluate((c: HTMLCanvasElement) => {
              const ctx = c.getContext('2d');
              if (!ctx || c.width === 0) return 0;
              const d = ctx.getImageData(0, 0, c.width, c.height).data;
              const colours = new Set<number>();
              for (let i = 0; i < d.length && colours.size < 50; i += 4 * 97) {
                colours.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
              }
              return colours.size;
            }),
          { timeout: 30_000 },
        )
        .toBeGreaterThan(1);
      expect(await win.getAttribute('aria-label')).toContain('(desktop)');
      await shot('desktop-window');
      await win.screenshot({ path: join(ARTIFACTS, 'environments-desktop-window-only.png') });
    });

    it('the embedded keyboard types into the environment window', async () => {
      const win = page.locator(`[data-window="env:${envId}"]`);
      const canvas = win.locator('[data-testid="env-viewer"] canvas').first();
      // A digest of the framebuffer: any repaint of the xterm changes it.
      const digest = () =>
        canvas.evaluate((c: HTMLCanvasElement) => {
          const d = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? [];
          let h = 0;
          for (let i = 0; i < d.length; i += 4) h = (h * 31 + d[i]! + d[i + 1]! + d[i + 2]!) | 0;
          return h;
        });
      // The xterm gets the X input focus from a click on it; the host keyboard is not used.
      await canvas.click();
      const before = await digest();
      await win.getByRole('button', { name: 'keyboard' }).click();
      await typeOnKeyboard(page, 'echo virtos', win);
      await expect.poll(digest, { timeout: 15_000 }).not.toBe(before);
      await shot('keyboard-typed');
      await win.getByRole('button', { name: 'keyboard' }).click();
    });

    it('suspend and resume from the module update the window; terminate ends it', async () => {
      const win = page.locator(`[data-window="env:${envId}"]`);
      const row = frame.locator(`#env-list tr[data-env="${envId}"]`);
      // Side by side: the desktop on the right half, the module on the left.
      await win.getByRole('button', { name: 'snap right' }).click();
      await page.locator('.taskbar .task', { hasText: 'Environments' }).click();
      await page
        .locator('[data-window="module:environments"]')
        .getByRole('button', { name: 'snap left' })
        .click();
      await row.locator('[data-action="suspend"]').click();
      await frame.waitForSelector(`#env-list tr[data-env="${envId}"][data-state="suspended"]`);
      // The window follows the environment's events: the viewer gives way to the state panel.
      await expect.poll(() => win.getByTestId('env-state').textContent()).toBe('suspended');
      expect(await win.locator('[data-testid="env-viewer"]').count()).toBe(0);
      await shot('suspended');
      await win.getByRole('button', { name: 'Resume' }).click();
      await win.locator('[data-testid="env-viewer"]').waitFor();
      await frame.waitForSelector(`#env-list tr[data-env="${envId}"][data-state="running"]`);

      await row.locator('[data-action="terminate"]').click();
      await expect.poll(() => win.getByTestId('env-state').textContent()).toBe('terminated');
      const rec = await api<{ state: string }>('GET', `/api/environments/${envId}`);
      expect(rec.json.state).toBe('terminated');
      await frame.waitForSelector(`#env-list tr[data-env="${envId}"]`, { state: 'detached' });
      await shot('terminated');
    });

    it('environment windows and the module share ONE event stream; later API calls answer', async () => {
      // Five more environments (created from the same spec and terminated at once), each with a
      // window, next to the Environments module: the old one-stream-per-window design used all
      // six HTTP/1.1 connections of the origin here, and every later call queued forever.
      const { json: rec } = await api<{ spec: unknown }>('GET', `/api/environments/${envId}`);
      const ids = [envId];
      for (let i = 0; i < 5; i += 1) {
        const made = await api<{ id: string }>('POST', '/api/environments', {
          spec: rec.spec,
          name: `extra-${i}`,
        });
        expect(made.status).toBe(201);
        ids.push(made.json.id);
        expect((await api('DELETE', `/api/environments/${made.json.id}`)).status).toBe(200);
      }
      const place = (appId: string, i: number) => ({
        appId,
        ...{ x: 20 + 30 * i, y: 20 + 20 * i, w: 420, h: 300 },
        ...{ isMinimised: false, isMaximised: false, snap: null },
      });
      const layout = {
        version: 1,
        windows: ['module:environments', ...ids.map((id) => `env:${id}`)].map(place),
      };
      // Event streams open in the page, and the most open at once, from the reload on.
      const open = new Set<Request>();
      let mostOpen = 0;
      page.on('request', (r) => {
        if (r.headers()['accept'] !== 'text/event-stream') return;
        open.add(r);
        mostOpen = Math.max(mostOpen, open.size);
      });
      page.on('requestfinished', (r) => void open.delete(r));
      page.on('requestfailed', (r) => void open.delete(r));
      const saved = await fetch(`${daemon.url}/api/shell/settings/layout`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ value: layout }),
      });
      expect(saved.status).toBeLessThan(300);
      // Counted from the reload on (the old page's stream is aborted by the navigation).
      open.clear();
      mostOpen = 0;
      await unlock(page, url, PASS); // a fresh page: the saved windows reopen
      for (const id of ids) {
        const win = page.locator(`[data-window="env:${id}"]`);
        await expect.poll(() => win.getByTestId('env-state').textContent()).toBe('terminated');
      }
      // The module is ready once its watch is set up (it follows events from the start).
      await moduleFrame(page, 'environments');
      await expect.poll(() => open.size).toBe(1);
      const [stream] = [...open];
      expect(stream?.url()).toMatch(/\/api\/events$/);
      // A later API call answers: the Module Manager lists the installed modules.
      const mm = await openApp(page, 'shell:modules');
      await mm.locator('[data-module="environments"]').waitFor({ timeout: 15_000 });
      expect(mostOpen).toBe(1);
      await shot('shared-stream');
    });

    it('event streams were followed with the session header, never a token in a URL', async () => {
      // The daemon refuses its event stream without a session.
      expect((await fetch(`${daemon.url}/api/events`)).status).toBe(401);
      const events = requests.filter((r) => r.url.includes('/events'));
      for (const r of events) expect(r.auth, r.url).toMatch(/^Bearer /);
      const streams = events.filter((r) => r.accept === 'text/event-stream').map((r) => r.url);
      // Windows and module watches follow the shell's one all-environments stream.
      expect(streams.length).toBeGreaterThan(0);
      expect(streams.every((u) => u.endsWith('/api/events'))).toBe(true);
      expect(requests.filter((r) => r.url.includes('/api/') && /token=/i.test(r.url))).toEqual([]);
      expect(errors).toEqual([]);
    });
  },
);
