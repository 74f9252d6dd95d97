/**
 * The terminal viewer in headless Chromium against a real daemon and the REAL OCI runtime, under
 * the daemon's Content-Security-Policy: a terminal environment's login shell answers a command
 * typed with real key events, its size follows the viewer's box (`stty size`), xterm's style rules
 * apply through the constructed stylesheet (style-src stays 'self'), and `exit 3` shows the exit
 * code.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PAGE_BASE,
  VIEWER_PASS,
  buildViewerPage,
  launchChromiumForTestPage,
  servePage,
  startRealDaemon,
  viewerSkipReason,
  type RealDaemon,
} from './helpers/viewer-daemon.js';

const skip = await viewerSkipReason();

interface TerminalTest {
  unlock(p: string): Promise<void>;
  open(name: string, envId: string, w: number, h: number): void;
  resize(name: string, w: number, h: number): void;
  text(name: string): string;
  adoptedRules(): number;
}

describe.skipIf(skip !== undefined)(
  `terminal viewer, real runtime and Chromium${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let d: RealDaemon | undefined;
    let browser: Browser | undefined;
    let page: Page;
    let envId = '';

    beforeAll(async () => {
      const pageBuild = await buildViewerPage('terminal-page.ts');
      d = await startRealDaemon();
      const out = await d.client.create({ request: 'a debian terminal' }, { wait: true });
      expect(out.ok).toBe(true);
      envId = (out as { record: { id: string } }).record.id;
      browser = await launchChromiumForTestPage();
      page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
      await servePage(page, d.url, pageBuild);
      await page.goto(`${d.url}${PAGE_BASE}`);
      await page.waitForFunction(() => 'terminalTest' in window);
      await page.evaluate(
        (p) => (window as unknown as { terminalTest: TerminalTest }).terminalTest.unlock(p),
        VIEWER_PASS,
      );
    }, 300_000);
    afterAll(async () => {
      await browser?.close();
      await d?.close();
    }, 120_000);

    const text = (): Promise<string> =>
      page.evaluate(() =>
        (window as unknown as { terminalTest: TerminalTest }).terminalTest.text('t1'),
      );
    const waitText = (re: RegExp): Promise<unknown> =>
      page
        .waitForFunction(
          ([src, flags]) =>
            new RegExp(src as string, flags).test(
              (window as unknown as { terminalTest: TerminalTest }).terminalTest.text('t1'),
            ),
          [re.source, re.flags],
          { timeout: 30_000 },
        )
        .catch(async (e: unknown) => {
          throw new Error(`${re} not on the terminal: ${JSON.stringify(await text())}`, {
            cause: e,
          });
        });

    it('a typed command answers, stty follows the box, exit 3 is shown', async () => {
      await page.evaluate(
        ([id]) =>
          (window as unknown as { terminalTest: TerminalTest }).terminalTest.open(
            't1',
            id as string,
            900,
            500,
          ),
        [envId],
      );
      await page.waitForSelector('#t1 [data-phase="open"]', { timeout: 30_000 });
      await waitText(/user@\S+:~\$/);
      // xterm's own rules (row height, colours) arrive through the constructed stylesheet.
      expect(
        await page.evaluate(() =>
          (window as unknown as { terminalTest: TerminalTest }).terminalTest.adoptedRules(),
        ),
      ).toBeGreaterThan(0);

      await page.click('#t1 .xterm');
      await page.keyboard.type('echo "<$((6 * 7))>"');
      await page.keyboard.press('Enter');
      await waitText(/^<42>\s*$/m);

      await page.keyboard.type('stty size');
      await page.keyboard.press('Enter');
      await waitText(/^\d+ \d+\s*$/m);
      const first = /^(\d+) (\d+)\s*$/m.exec(await text());
      expect(first).not.toBeNull();
      const [rows1, cols1] = [Number(first![1]), Number(first![2])];

      // A narrower box: the viewer refits, the shell learns the new size.
      await page.evaluate(() =>
        (window as unknown as { terminalTest: TerminalTest }).terminalTest.resize('t1', 500, 300),
      );
      await page.keyboard.type('clear; stty size');
      await page.keyboard.press('Enter');
      await page.waitForFunction(
        ([c]) => {
          const t = (window as unknown as { terminalTest: TerminalTest }).terminalTest.text('t1');
          const m = /^(\d+) (\d+)\s*$/m.exec(t);
          return m !== null && Number(m[2]) < (c as number);
        },
        [cols1],
        { timeout: 30_000 },
      );
      const second = /^(\d+) (\d+)\s*$/m.exec(await text());
      expect(Number(second![1])).toBeLessThan(rows1);

      await page.keyboard.type('exit 3');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#t1 [data-exit="3"]', { timeout: 30_000 });
      expect(await page.textContent('#t1 [data-testid="terminal-ended"]')).toContain('code 3');
    }, 120_000);
  },
);
