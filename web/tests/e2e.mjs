// Two people in two browser contexts (their own storage, devices and keys)
// on the demo page, signed in through /v1/sessions: Alice writes in their
// end-to-end encrypted coordination DM and Bob's page shows the decrypted
// text; Bob writes in the community's General room and Alice sees it.
// Started by the Rust test `browser_chat` with ALICE_URL, BOB_URL and
// OUT_DIR in the environment; exits non-zero with the reason on failure.

import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const { ALICE_URL, BOB_URL, OUT_DIR = "test-results" } = process.env;
if (!ALICE_URL || !BOB_URL) {
  console.error("ALICE_URL and BOB_URL are required");
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
const TIMEOUT = 60_000;
const started = Date.now();
const step = (what) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${what}`);

async function open(name, url) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.log(`${name} page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") console.log(`${name} console: ${m.text()}`);
  });
  await page.goto(url);
  await page.waitForSelector('[data-chat-ready="true"]', { timeout: TIMEOUT });
  step(`${name} signed in and synced`);
  return page;
}

async function say(page, tab, text) {
  await page.click(`button[data-tab="${tab}"]`);
  await page.fill(".ms-input", text);
  await page.click(".ms-send");
}

async function sees(page, name, tab, text) {
  await page.click(`button[data-tab="${tab}"]`);
  const message = page.locator(".ms-message", { hasText: text });
  await message.first().waitFor({ timeout: TIMEOUT });
  const encrypted = await message.first().getAttribute("data-encrypted");
  step(`${name} sees "${text}" in ${tab} (encrypted: ${encrypted})`);
  return encrypted === "true";
}

let failed = false;
try {
  const [alice, bob] = await Promise.all([open("alice", ALICE_URL), open("bob", BOB_URL)]);

  const dmText = `Pickup at 6pm at the north gate? ${Date.now()}`;
  await say(alice, "dm", dmText);
  const encrypted = await sees(bob, "bob", "dm", dmText);
  if (!encrypted) throw new Error("the DM message was not end-to-end encrypted");
  await alice.screenshot({ path: `${OUT_DIR}/dm-alice.png` });
  await bob.screenshot({ path: `${OUT_DIR}/dm-bob.png` });

  const generalText = `Hello neighbours! ${Date.now()}`;
  await say(bob, "general", generalText);
  await sees(alice, "alice", "general", generalText);
  await alice.screenshot({ path: `${OUT_DIR}/general-alice.png` });
  await bob.screenshot({ path: `${OUT_DIR}/general-bob.png` });

  await alice.click('button[data-tab="messages"]');
  await alice.screenshot({ path: `${OUT_DIR}/messages-alice.png` });
  step("done");
} catch (e) {
  failed = true;
  console.error(`e2e failed: ${e?.stack ?? e}`);
  for (const [i, context] of browser.contexts().entries()) {
    for (const page of context.pages()) await page.screenshot({ path: `${OUT_DIR}/failure-${i}.png` }).catch(() => {});
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
