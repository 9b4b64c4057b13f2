import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path)) ?? null;

/** What a page did when headless Chromium loaded it. */
export interface PageLoad {
  dom: string;
  /** Lines Chromium logged for console messages of level error, and uncaught exceptions. */
  consoleErrors: string[];
}

/**
 * Loads a local HTML file in headless Chromium (Debian's package) with networking features
 * off, and returns the DOM after load plus the console errors it logged.
 */
export function loadInChromium(file: string, screenshot?: string): PageLoad {
  if (!CHROMIUM) throw new Error('chromium is not installed: apt-get install chromium');
  const profile = mkdtempSync(join(tmpdir(), 'fieldloop-chromium-'));
  try {
    const flags = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
      '--enable-logging=stderr',
      '--v=0',
      '--virtual-time-budget=2000',
    ];
    const action = screenshot ? [`--screenshot=${screenshot}`, '--window-size=1200,2400'] : ['--dump-dom'];
    const result = spawnSync(CHROMIUM, [...flags, ...action, `file://${file}`], { encoding: 'utf8', timeout: 60_000 });
    if (result.status !== 0) throw new Error(`chromium exited with ${result.status}: ${result.stderr.slice(-2000)}`);
    const consoleErrors = result.stderr
      .split('\n')
      .filter((line) => /CONSOLE/.test(line) && /(error|Uncaught)/i.test(line));
    return { dom: result.stdout, consoleErrors };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}
