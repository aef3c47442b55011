import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { adminUiDirectory } from '../../apps/gateway/src/admin/ui/ui-directory.js';

/** Debian's Chromium (never a downloaded one): `apt-get install chromium`; scripts/test.sh installs it. */
export const CHROMIUM = '/usr/bin/chromium';
/** Screenshots land here (gitignored); CI keeps them as the run's artifacts. */
export const ARTIFACTS = join(process.cwd(), 'test-artifacts');

/**
 * `describe`, or `describe.skip` with a warning when Chromium (or, with `needsAdminUi`, the built
 * admin UI) is missing; with REQUIRE_BROWSER=1 (CI) a missing piece fails the run instead.
 */
export function describeInBrowser(what: string, { needsAdminUi = false } = {}): typeof describe {
  const missing = [
    !existsSync(CHROMIUM) && `Chromium at ${CHROMIUM} (apt-get install chromium)`,
    needsAdminUi && !adminUiDirectory() && 'the built admin UI (npm --prefix angular-admin run build)',
  ].filter(Boolean);
  if (missing.length > 0 && process.env.REQUIRE_BROWSER === '1') {
    throw new Error(`REQUIRE_BROWSER=1 but ${what} cannot run without ${missing.join(' and ')}`);
  }
  if (missing.length > 0) console.warn(`SKIPPING ${what}: no ${missing.join(' and ')}`);
  return missing.length > 0 ? describe.skip : describe;
}

/** Headless Chromium, no sandbox (root in CI), nothing that talks to the internet. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
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
      '--disable-dev-shm-usage',
    ],
  });
}
