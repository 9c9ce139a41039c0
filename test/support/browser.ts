import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

// Headless Chromium from the system's package (Debian's `chromium`), never a browser download.
export const chromiumPath =
  process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
export const hasChromium = chromiumPath !== undefined;
if (!hasChromium) {
  // CI installs it (.ci/run); a missing browser there is a failure, not a skip.
  if (process.env.CI)
    throw new Error(
      'browser tests: no chromium at /usr/bin/chromium (set CHROMIUM_PATH); .ci/run installs it with apt',
    );
  console.warn('[tests] no chromium found (apt-get install chromium, or set CHROMIUM_PATH): browser tests are skipped');
}

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A fresh browser profile in its own temp folder; the folder also takes the screenshots. */
export async function launchBrowser(): Promise<{ context: BrowserContext; dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tw-browser-'));
  const context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: chromiumPath!,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 900 },
  });
  return { context, dir };
}
