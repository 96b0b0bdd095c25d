import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { toolAvailable } from './tools';

/**
 * Headless Chromium for the console's end-to-end tests: Debian's `chromium` (installed by .ci/run), driven
 * by playwright-core. Each page records what the browser complains about (console errors, CSP violations,
 * answers of 400 and above, requests that failed), so a test can assert the page ran clean. Screenshots go to test/screenshots/ (the
 * README's are copied from there).
 */

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(__dirname, '..', 'screenshots');

export const PHONE = { width: 390, height: 844 } as const;
export const DESKTOP = { width: 1280, height: 860 } as const;

export const chromiumAvailable = (): boolean => toolAvailable(CHROMIUM);

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** Console errors, page errors and CSP reports, in order. */
  problems: string[];
  /** Files the page downloaded: name → content. */
  downloads: Map<string, Buffer>;
}

export async function openPage(browser: Browser, viewport: { width: number; height: number }): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  const problems: string[] = [];
  const downloads = new Map<string, Buffer>();
  page.on('console', (message) => {
    // Failed loads are reported below, with their URL.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(`console: ${message.text()}`);
  });
  page.on('response', (response) => {
    // A browser asks every origin for /favicon.ico; the sign-in page's origin has none, as Cognito's may not.
    if (response.status() >= 400 && !response.url().endsWith('/favicon.ico')) problems.push(`HTTP ${response.status()}: ${response.request().method()} ${response.url()}`);
  });
  page.on('requestfailed', (request) => problems.push(`failed: ${request.method()} ${request.url()} (${request.failure()?.errorText})`));
  page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
  page.on('download', async (download) => {
    const stream = await download.createReadStream();
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    downloads.set(download.suggestedFilename(), Buffer.concat(chunks));
  });
  return { page, context, problems, downloads };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Opens the console at `url` and signs `user` in through the (local) hosted sign-in; resolves once signed in. */
export async function signInToConsole(browser: Browser, url: string, user: { email: string; password: string }, viewport: { width: number; height: number } = DESKTOP): Promise<WatchedPage> {
  const watched = await openPage(browser, viewport);
  await watched.page.goto(url);
  await watched.page.getByRole('button', { name: 'Sign in' }).click();
  await watched.page.locator('#email').fill(user.email);
  await watched.page.locator('#password').fill(user.password);
  await watched.page.getByRole('button', { name: 'Sign in' }).click();
  await watched.page.locator('#sign-out').waitFor();
  return watched;
}
