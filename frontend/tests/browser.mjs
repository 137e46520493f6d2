// What the dashboard's browser tests share: the environment the Go tests
// set (e2e/ui_test.go's browserTest), and a headless Chromium, Debian's,
// driven by playwright-core, with one page open.
//
// Environment:
//   SLUICE_SCREENSHOTS  where screenshots go (default: tests/screenshots)
//   CHROMIUM            the browser (default /usr/bin/chromium)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const shotsDir = process.env.SLUICE_SCREENSHOTS || path.join(here, 'screenshots');

/** needs is a test's skip reason when any of the environment variables names is unset, or false. */
export function needs(...names) {
  const missing = names.filter((n) => !process.env[n]);
  return missing.length ? `needs ${missing.join(', ')} (the Go test sets them)` : false;
}

/**
 * launch starts Chromium with a profile of its own (name says whose) and
 * returns its context, its page, the script errors the page has thrown so
 * far (a live array) and close, which ends it and removes the profile.
 * grant: an origin given clipboard access.
 */
export async function launch(name, { viewport, grant } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), `sluice-${name}-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    viewport: viewport ?? { width: 1440, height: 1000 },
    colorScheme: 'light',
    timezoneId: 'UTC',
    locale: 'en-US',
  });
  if (grant) await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: grant });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(10_000);
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  fs.mkdirSync(shotsDir, { recursive: true });
  const close = async () => {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { context, page, pageErrors, close };
}

/** go opens a section of the dashboard from its navigation and waits for its heading. */
export async function go(page, section) {
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: section, exact: true }).click();
  await page.getByRole('heading', { level: 1 }).first().waitFor();
}
