// People in browser contexts of their own (their own storage, devices and
// keys) on the demo page, signed in through /v1/sessions:
//  1. Alice writes in their end-to-end encrypted coordination DM and Bob's
//     page shows the decrypted text; Bob writes in the community's General
//     room and Alice sees it.
//  2. Alice writes in the (encrypted) council room; Bob reads it.
//  3. Alice reloads her page three times: each time the same device (the
//     browser remembers it) and her council and DM messages still readable.
//  4. Alice in a fresh browser context (no local storage, no IndexedDB): a
//     new device, which reads her earlier council and DM messages with keys
//     restored from her key backup.
//  5. Carol, who never signed in before, reads the bot's message in her
//     accepted request's DM (its key is in her key backup).
// Started by the Rust test `browser_chat` with ALICE_URL, BOB_URL, CAROL_URL
// and OUT_DIR in the environment; exits non-zero with the reason on failure.

import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const { ALICE_URL, BOB_URL, CAROL_URL, OUT_DIR = "test-results" } = process.env;
if (!ALICE_URL || !BOB_URL || !CAROL_URL) {
  console.error("ALICE_URL, BOB_URL and CAROL_URL are required");
  process.exit(2);
}
mkdirSync(OUT_DIR, { recursive: true });

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
async function open(name, url) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
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

let failed = false;
try {
  // 1. The DM and General.
  const [alice, bob] = await Promise.all([open("alice", ALICE_URL), open("bob", BOB_URL)]);

  const dmText = `Pickup at 6pm at the north gate? ${Date.now()}`;
  await say(alice.page, "dm", dmText);
  if (!(await reads(bob.page, "bob", "dm", dmText))) throw new Error("the DM message was not end-to-end encrypted");
  await alice.page.screenshot({ path: `${OUT_DIR}/dm-alice.png` });
  await bob.page.screenshot({ path: `${OUT_DIR}/dm-bob.png` });

  const generalText = `Hello neighbours! ${Date.now()}`;
  await say(bob.page, "general", generalText);
  await reads(alice.page, "alice", "general", generalText);
  await alice.page.screenshot({ path: `${OUT_DIR}/general-alice.png` });
  await bob.page.screenshot({ path: `${OUT_DIR}/general-bob.png` });

  await alice.page.click('button[data-tab="messages"]');
  await alice.page.screenshot({ path: `${OUT_DIR}/messages-alice.png` });

  // 2. The council.
  const councilText = `Stewards: agenda for Thursday ${Date.now()}`;
  await say(alice.page, "council", councilText);
  if (!(await reads(bob.page, "bob", "council", councilText))) {
    throw new Error("the council message was not end-to-end encrypted");
  }
  await alice.page.screenshot({ path: `${OUT_DIR}/council-alice.png` });
  await bob.page.screenshot({ path: `${OUT_DIR}/council-bob.png` });
  await close("bob");

  // 3. Reloads keep the device and its keys.
  for (let i = 1; i <= 3; i++) {
    const reloaded = Date.now();
    await alice.page.reload();
    const device = await ready(alice.page, "alice");
    if (device !== alice.device) {
      throw new Error(`reload ${i}: alice is on device ${device}, not on her earlier device ${alice.device}`);
    }
    step(`alice reload ${i}: synced on the same device ${device} (${seconds(reloaded)}s)`);
    await reads(alice.page, "alice", "council", councilText);
    await reads(alice.page, "alice", "dm", dmText);
    await alice.page.screenshot({ path: `${OUT_DIR}/reload-alice.png` });
  }

  // 4. A fresh browser for Alice: a new device, the earlier messages from the key backup.
  const fresh = await open("alice-fresh", ALICE_URL);
  if (fresh.device === alice.device) {
    throw new Error(`alice's fresh browser got her earlier device ${alice.device}, not a new one`);
  }
  await reads(fresh.page, "alice-fresh", "council", councilText);
  step(`alice-fresh: first earlier message read ${seconds(fresh.opened)}s after the page opened`);
  await reads(fresh.page, "alice-fresh", "dm", dmText);
  step(`alice-fresh: both earlier messages read ${seconds(fresh.opened)}s after the page opened; ${await state(fresh.page)}`);
  await fresh.page.screenshot({ path: `${OUT_DIR}/fresh-alice.png` });
  await close("alice-fresh");
  await close("alice");

  // 5. Carol's first sign-in: the bot's message in her request's DM.
  const carol = await open("carol", CAROL_URL);
  await reads(carol.page, "carol", "dm", "/requests/");
  step(`carol: the bot's message read ${seconds(carol.opened)}s after the page opened; ${await state(carol.page)}`);
  await carol.page.screenshot({ path: `${OUT_DIR}/carol-dm.png` });
  step("done");
} catch (e) {
  failed = true;
  console.error(`e2e failed: ${e?.stack ?? e}`);
  for (const [name, errors] of httpErrors) {
    if (errors.length) console.error(`${name}'s last failed requests:\n  ${errors.join("\n  ")}`);
  }
  for (const [name, page] of pages) {
    await page.screenshot({ path: `${OUT_DIR}/failure-${name}.png` }).catch(() => {});
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
