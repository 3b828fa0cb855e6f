// What the browser scripts share: Debian's Chromium through playwright-core,
// one browser context per person (their own local storage and IndexedDB),
// and the demo page's chat as a person uses it: sign in, write, read; plus
// named checks (`check`) that time themselves and leave a screenshot of
// every open page in OUT_DIR.

import { chromium } from "playwright-core";

/**
 * A demo page's URL with `test=1` in its hash: only then does the page put the chat's handle
 * on `window.matrixSyncChat` (for checks that use its client directly).
 */
export function withTestHandle(url) {
  const parsed = new URL(url);
  const hash = new URLSearchParams(parsed.hash.slice(1));
  hash.set("test", "1");
  parsed.hash = hash.toString();
  return parsed.toString();
}

export async function startBrowser({ outDir = process.env.OUT_DIR ?? "test-results" } = {}) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  // Generous: a message may first show as undecryptable and turn readable once
  // its key arrives (from the sender, or restored from the key backup).
  const TIMEOUT = 90_000;
  const started = Date.now();
  const seconds = (since) => ((Date.now() - since) / 1000).toFixed(1);
  const step = (what) => console.log(`[${seconds(started)}s] ${what}`);

  /** Every open page by name, for the failure screenshots. */
  const pages = new Map();
  /** Pages whose console is not printed for now (e.g. taken offline on purpose). */
  const muted = new Set();
  /** The last failed HTTP answers of each page (method, path, status), printed on failure only:
   * some are expected (a key not in the backup is a 404). */
  const httpErrors = new Map();

  /** What the embed says about itself, for failure messages. */
  async function state(page) {
    return page
      .evaluate(() => {
        const root = document.querySelector("[data-device-id]");
        const error = document.querySelector('[data-testid="error"]')?.textContent;
        return JSON.stringify({
          device: root?.getAttribute("data-device-id") ?? null,
          ready: root?.getAttribute("data-chat-ready") ?? null,
          keyBackup: root?.getAttribute("data-key-backup") ?? null,
          backupRestored: root?.getAttribute("data-backup-restored") ?? null,
          chatError: root?.getAttribute("data-chat-error") ?? null,
          signInError: error ?? null,
          room: document.querySelector(".ms-room-name")?.textContent ?? null,
          messages: document.querySelectorAll(".ms-message").length,
          undecryptable: document.querySelectorAll('.ms-message[data-undecryptable="true"]').length,
          waitingForKey: document.querySelectorAll('.ms-message[data-waiting-for-key="true"]').length,
        });
      })
      .catch((e) => `(page state unavailable: ${e.message})`);
  }

  /** Waits until the page's chat is synced (or fails with what the page shows instead). */
  async function ready(page, name) {
    const shown = await page
      .waitForSelector('[data-chat-ready="true"], [data-chat-error], [data-testid="error"]', { timeout: TIMEOUT })
      .catch(async (e) => {
        throw new Error(`${name}: the chat did not become ready: ${e.message}\n${name}: ${await state(page)}`);
      });
    if ((await shown.getAttribute("data-chat-ready")) !== "true") {
      throw new Error(`${name}: the chat failed to start: ${await state(page)}`);
    }
    const device = await page.getAttribute("[data-device-id]", "data-device-id");
    if (!device) throw new Error(`${name}: no data-device-id on the chat`);
    return device;
  }

  /** A page in a browser context of its own (its own local storage and IndexedDB). */
  async function open(name, url, { viewport = { width: 1100, height: 700 } } = {}) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    pages.set(name, page);
    httpErrors.set(name, []);
    page.on("response", (r) => {
      if (r.status() < 400) return;
      const errors = httpErrors.get(name) ?? [];
      errors.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
      if (errors.length > 20) errors.shift();
    });
    page.on("pageerror", (e) => console.log(`${name} page error: ${e.message}`));
    page.on("console", (m) => {
      // Failed requests are kept apart (`httpErrors`, shown on failure): some are expected.
      if (m.text().startsWith("Failed to load resource") || muted.has(name)) return;
      if (m.type() === "error" || (m.type() === "warning" && m.text().startsWith("matrix-sync chat:"))) {
        console.log(`${name} console: ${m.text()}`);
      }
    });
    const opened = Date.now();
    await page.goto(url);
    const device = await ready(page, name);
    step(`${name} signed in and synced on device ${device} (${seconds(opened)}s)`);
    return { page, device, opened };
  }

  async function close(name) {
    const page = pages.get(name);
    pages.delete(name);
    await page?.context().close().catch(() => {});
  }

  async function say(page, tab, text) {
    await page.click(`button[data-tab="${tab}"]`);
    await page.fill(".ms-input", text);
    await page.click(".ms-send");
  }

  /**
   * Waits until the message with this text is shown decrypted in the tab (an
   * undecryptable one shows a placeholder instead, and has data-undecryptable);
   * returns whether it was end-to-end encrypted.
   */
  async function reads(page, name, tab, text) {
    await page.click(`button[data-tab="${tab}"]`);
    const message = page.locator('.ms-message:not([data-undecryptable="true"])', { hasText: text }).first();
    await message.waitFor({ timeout: TIMEOUT }).catch(async (e) => {
      throw new Error(`${name} does not read "${text}" in ${tab}: ${e.message}\n${name}: ${await state(page)}`);
    });
    const encrypted = (await message.getAttribute("data-encrypted")) === "true";
    step(`${name} reads "${text}" in ${tab} (encrypted: ${encrypted})`);
    return encrypted;
  }

  /** A screenshot of each open page: `${outDir}/${label}-${name}.png`. */
  async function shots(label) {
    for (const [name, page] of pages) {
      await page.screenshot({ path: `${outDir}/${label}-${name}.png` }).catch(() => {});
    }
  }

  /**
   * Runs one named check: prints its start and how long it took, leaves a screenshot of every
   * open page (`${outDir}/${slug}-<page>.png`), and rethrows a failure as "<label>: <reason>".
   */
  async function check(label, body) {
    const slug = label.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
    const since = Date.now();
    step(`${label}…`);
    try {
      await body();
    } catch (e) {
      await shots(`${slug}-failed`);
      const error = new Error(`${label}: ${e?.message ?? e}`);
      error.stack = `${error.message}\n${e?.stack ?? ""}`;
      throw error;
    }
    await shots(slug);
    step(`${label}: passed (${seconds(since)}s)`);
  }

  /** Prints what went wrong: each page's last failed requests and a screenshot. */
  async function reportFailure(e, outDir, label) {
    console.error(`${label} failed: ${e?.stack ?? e}`);
    for (const [name, errors] of httpErrors) {
      if (errors.length) console.error(`${name}'s last failed requests:\n  ${errors.join("\n  ")}`);
    }
    for (const [name, page] of pages) {
      await page.screenshot({ path: `${outDir}/failure-${name}.png` }).catch(() => {});
    }
  }

  /** Stops (or resumes) printing a page's console errors. */
  function mute(name, on) {
    if (on) muted.add(name);
    else muted.delete(name);
  }

  return { browser, pages, mute, step, seconds, state, ready, open, close, say, reads, reportFailure, shots, check, TIMEOUT };
}
