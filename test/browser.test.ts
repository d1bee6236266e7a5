/**
 * The synced counter (example 6) in a real browser: Debian's Chromium, driven by playwright-core,
 * opens the page served by examples/06-counter/server.ts in two pages, clicks + in one and sees the
 * value change in both, sees "2 users online", closes one and sees "1 user". A screenshot is saved
 * under test-output/.
 *
 * Never a downloaded browser: only Debian's /usr/bin/chromium (`FULLDUPLEX_CHROMIUM` overrides the
 * path). Without it the test is skipped with a line naming the package — except in CI (CI set),
 * where it must run and fails instead (test/helpers/peers.ts).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { killAll, Proc, ROOT } from './fixtures/seed/processes.js';
import { chromiumCommand, describeWithPeer } from './helpers/peers.js';

const CHROMIUM = chromiumCommand();
const SCREENSHOT_DIR = join(ROOT, 'test-output');

afterEach(killAll);

describeWithPeer(
  'chromium',
  `counter page in Chromium (${CHROMIUM})`,
  () => {
    let browser: Browser;

    beforeAll(async () => {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
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
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
    });

    const targets = [
      { name: 'examples/06-counter/server.ts', shot: 'counter', start: () => Proc.ts('examples/06-counter/server.ts', ['0']) },
      // `npm start`, as a newcomer runs it (its own process group, like a terminal's).
      { name: 'npm start', shot: 'demo', start: () => new Proc('npm', ['start', '--silent'], { PORT: '0' }, { detached: true }) },
    ];

    it.each(targets)('$name: clicks in one tab update every tab, and every tab shows how many users are online', async ({ shot, start }) => {
      const server = start();
      const url = await server.url();
      const context = await browser.newContext({ viewport: { width: 900, height: 520 } });
      try {
        const first = await context.newPage();
        const errors: string[] = [];
        first.on('pageerror', (error) => errors.push(error.message));
        await first.goto(url);
        await expect.poll(() => first.textContent('.value')).toBe('0');
        await expect.poll(() => first.textContent('.users')).toBe('1 user');

        const second = await context.newPage();
        second.on('pageerror', (error) => errors.push(error.message));
        await second.goto(url);
        await expect.poll(() => second.textContent('.value')).toBe('0');
        // Both tabs learn about the second user.
        await expect.poll(() => first.textContent('.users')).toBe('2 users');
        await expect.poll(() => second.textContent('.users')).toBe('2 users');
        expect((await second.innerText('.state')).trim()).toBe('2 users online');

        // + in the first tab: both tabs show 1; − in the second: both show 0 again; + + → 2.
        await first.click('.plus');
        await expect.poll(() => first.textContent('.value')).toBe('1');
        await expect.poll(() => second.textContent('.value')).toBe('1');
        await second.click('.minus');
        await expect.poll(() => first.textContent('.value')).toBe('0');
        await expect.poll(() => second.textContent('.value')).toBe('0');
        await first.click('.plus');
        await second.click('.plus');
        await expect.poll(() => first.textContent('.value')).toBe('2');
        await expect.poll(() => second.textContent('.value')).toBe('2');

        mkdirSync(SCREENSHOT_DIR, { recursive: true });
        await first.screenshot({ path: join(SCREENSHOT_DIR, `${shot}-two-users.png`) });

        // Closing one tab leaves one user.
        await second.close();
        await expect.poll(() => first.textContent('.users')).toBe('1 user');
        expect((await first.innerText('.state')).trim()).toBe('1 user online');
        await first.screenshot({ path: join(SCREENSHOT_DIR, `${shot}-one-user.png`) });
        expect(errors).toEqual([]);
      } finally {
        await context.close();
      }
    });
  },
);
