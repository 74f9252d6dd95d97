/**
 * The App Shell in headless Chromium against a real daemon: first run with a passphrase typed on
 * the embedded keyboard, passkey enrolment (CDP virtual authenticator with PRF), a window layout
 * that survives a reload, lock and unlock with the passphrase, passkey-only unlock, the CSP, and a
 * service worker that caches no API answer. One browser session (a passkey's PRF secret does not
 * survive re-import into another authenticator).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addVirtualAuthenticator,
  ensureBuilt,
  launchChromium,
  shot,
  startDaemon,
  typeOnKeyboard,
  type Browser,
  type Page,
  type TestDaemon,
} from './helpers/harness.js';

const PASS = 'violet tractor 42';
let d: TestDaemon;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  ensureBuilt();
  d = await startDaemon();
  browser = await launchChromium();
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  await addVirtualAuthenticator(page);
  // Colleagues edit daemon sources while these tests run, which trips the real canary (a full-screen
  // alert that blocks every click). The page sees a stubbed canary answer ("ok", or "mismatch" when
  // the last test asks for it); that test also checks the daemon's real answer. A fetch wrapper
  // (not page.route) keeps the service worker in play.
  await page.addInitScript(() => {
    const real = window.fetch.bind(window);
    window.fetch = (input, init) => {
      if (String(input).endsWith('/api/shell/canary')) {
        const isMismatch = localStorage.getItem('test.canary') === 'mismatch';
        const body = {
          state: isMismatch ? 'mismatch' : 'ok',
          checkedAt: Date.now(),
          count: isMismatch ? 1 : 0,
          mismatches: isMismatch
            ? [{ part: 'shell', path: 'assets/main.js', problem: 'changed' }]
            : [],
        };
        return Promise.resolve(new Response(JSON.stringify(body), { status: 200 }));
      }
      return real(input, init);
    };
  });
});

afterAll(async () => {
  await browser?.close();
  await d?.close();
});

async function windowBox(appId: string) {
  const b = await page.locator(`[data-window="${appId}"]`).boundingBox();
  if (!b) throw new Error(`no window ${appId}`);
  return {
    x: Math.round(b.x),
    y: Math.round(b.y),
    w: Math.round(b.width),
    h: Math.round(b.height),
  };
}

describe('App Shell in Chromium', () => {
  it('serves the shell with a strict CSP and no inline script', async () => {
    const res = await page.goto(d.url + '/');
    const csp = res?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    const html = (await res?.text()) ?? '';
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  });

  it('first run: creates the vault with a passphrase typed on the embedded keyboard', async () => {
    await page.locator('[data-screen="first-run"]').waitFor();
    await shot(page, 'first-run');
    await typeOnKeyboard(page, PASS);
    await expect
      .poll(() => page.getByTestId('secret-field').textContent())
      .toContain('•'.repeat(PASS.length));
    await page.getByTestId('secret-submit').click();
    const rk = page.getByTestId('recovery-key');
    await rk.waitFor();
    expect(await rk.textContent()).toMatch(/^[0-9A-Z-]{20,}/);
    await shot(page, 'recovery-key');
    await page.getByTestId('recovery-saved').click();
    expect(await page.getByTestId('recovery-key').count()).toBe(0);
  });

  it('enrols a passkey with PRF (virtual authenticator) and reaches the desktop', async () => {
    await page.getByTestId('enrol-passkey').click();
    await page.locator('[data-screen="desktop"]').waitFor();
    const opts = (await (await fetch(d.url + '/api/passkey/options')).json()) as {
      credentials: unknown[];
    };
    expect(opts.credentials).toHaveLength(1);
  });

  it('opens, moves, snaps windows; the layout survives a reload (after unlock)', async () => {
    await page.getByTestId('launcher').click();
    await page.locator('[data-app="shell:welcome"]').click();
    await page.getByTestId('launcher').click();
    await page.locator('[data-app="shell:settings"]').click();
    // Drag the Welcome window by its title bar.
    const title = page.locator('[data-window="shell:welcome"] .titlebar');
    const tb = await title.boundingBox();
    if (!tb) throw new Error('no title bar');
    await page.mouse.move(tb.x + 60, tb.y + 15);
    await page.mouse.down();
    await page.mouse.move(tb.x + 260, tb.y + 135, { steps: 5 });
    await page.mouse.up();
    // Snap Settings to the right half with the keyboard shortcut.
    await page.locator('[data-window="shell:settings"] .titlebar').click();
    await page.keyboard.press('Control+Alt+ArrowRight');
    const welcome = await windowBox('shell:welcome');
    const settings = await windowBox('shell:settings');
    expect(settings.x).toBe(640);
    expect(welcome.x).toBeGreaterThan(200);
    await page.waitForResponse((r) => r.url().includes('/api/shell/settings/layout'));
    await shot(page, 'desktop');

    await page.reload();
    await page.locator('[data-screen="lock"]').waitFor();
    await shot(page, 'lock');
    await typeOnKeyboard(page, PASS);
    await page.getByTestId('secret-submit').click();
    await page.locator('[data-screen="desktop"]').waitFor();
    await page.locator('[data-window="shell:settings"]').waitFor();
    expect(await windowBox('shell:welcome')).toEqual(welcome);
    expect(await windowBox('shell:settings')).toEqual(settings);
  });

  it('a wrong passphrase is refused on the lock screen', async () => {
    await page.getByTestId('lock-now').click();
    await page.locator('[data-screen="lock"]').waitFor();
    expect(await page.locator('[data-testid="window"]').count()).toBe(0);
    await typeOnKeyboard(page, 'wrong pass');
    await page.getByTestId('secret-submit').click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/passphrase/i);
    // The refused unlock is the one expected console error (HTTP 403).
    expect(pageErrors.splice(0)).toEqual([expect.stringContaining('403')]);
  });

  it('unlocks with the passkey only (WebAuthn get with PRF against the daemon challenge)', async () => {
    await page.getByTestId('unlock-passkey').click();
    await page.locator('[data-screen="desktop"]').waitFor();
    expect((await (await fetch(d.url + '/api/health')).json()) as unknown).toMatchObject({
      vault: 'unlocked',
    });
  });

  it('the service worker caches shell files only, never an API answer', async () => {
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
    await page.reload();
    await page.locator('[data-screen="lock"]').waitFor();
    const cached = await page.evaluate(async () => {
      const out: string[] = [];
      for (const k of await caches.keys()) {
        for (const r of await (await caches.open(k)).keys()) out.push(new URL(r.url).pathname);
      }
      return out;
    });
    expect(cached.length).toBeGreaterThan(0);
    expect(cached.filter((p) => p.startsWith('/api/'))).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('phone-sized: one full-screen window at a time, touch', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, 'lock-phone');
    await typeOnKeyboard(page, PASS);
    await page.getByTestId('secret-submit').click();
    await page.locator('[data-screen="desktop"].phone').waitFor();
    const visible = page.locator('[data-testid="window"]:not(.hidden)');
    await expect.poll(() => visible.count()).toBe(1);
    const box = await visible.first().boundingBox();
    expect(box).toMatchObject({ x: 0, y: 0, width: 390 });
    await page.getByTestId('launcher').click();
    await page.locator('[data-app="shell:welcome"]').click();
    await expect.poll(() => visible.count()).toBe(1);
    expect(await visible.first().getAttribute('data-window')).toBe('shell:welcome');
    await shot(page, 'desktop-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('the daemon reports the canary; a mismatch shows an alert over everything', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    const real = (await (await fetch(d.url + '/api/shell/canary')).json()) as { state: string };
    expect(['ok', 'mismatch']).toContain(real.state);
    // The browser side of a mismatch (the monitor itself is unit-tested in the server package).
    await page.evaluate(() => localStorage.setItem('test.canary', 'mismatch'));
    await page.reload();
    const alert = page.getByTestId('canary-alert');
    await alert.waitFor();
    const box = await alert.boundingBox();
    expect(box).toMatchObject({ x: 0, y: 0, width: 1280, height: 800 });
    await shot(page, 'canary-alert');
  });
});
