// `make demo`'s last step: a person's encrypted history follows them to a
// second browser. Alice writes in her DM on the demo page, closes that
// browser, and signs in from a fresh one (no local storage, no IndexedDB):
// a new device, which reads her message and the bot's with keys restored
// from her key backup. Prints what happened and how long it took.
// ALICE_URL (her demo page) and OUT_DIR come from the environment.

import { mkdirSync } from "node:fs";
import { startBrowser } from "./browser-kit.mjs";

const { ALICE_URL, OUT_DIR = "test-results" } = process.env;
if (!ALICE_URL) {
  console.error("ALICE_URL is required");
  process.exit(2);
}
mkdirSync(OUT_DIR, { recursive: true });
const { browser, step, seconds, open, close, say, reads, reportFailure } = await startBrowser();

let failed = false;
try {
  const first = await open("alice", ALICE_URL);
  const text = `Can I pick the table up on Saturday? ${new Date().toISOString()}`;
  const written = Date.now();
  await say(first.page, "dm", text);
  // Sent (the server gave it an event id), and its key uploaded to the backup.
  await first.page.locator('.ms-message[data-event-id^="$"]', { hasText: text }).first().waitFor({ timeout: 30_000 });
  await first.page.waitForFunction(
    (since) => Number(document.querySelector("[data-keys-backed-up-at]")?.getAttribute("data-keys-backed-up-at")) > since,
    written,
    { timeout: 30_000 },
  );
  step(`alice wrote "${text}"; its key is in her backup ${seconds(written)}s later`);
  await close("alice");
  step(`alice closes that browser (device ${first.device}) and opens a new one`);

  const second = await open("alice-second-browser", ALICE_URL);
  await reads(second.page, "alice-second-browser", "dm", "/requests/");
  await reads(second.page, "alice-second-browser", "dm", text);
  step(
    `the second browser (new device ${second.device}) reads the earlier encrypted messages, ` +
      `${seconds(second.opened)}s after it opened, with keys from the key backup`,
  );
  await second.page.screenshot({ path: `${OUT_DIR}/second-browser.png` });
} catch (e) {
  failed = true;
  await reportFailure(e, OUT_DIR, "second browser");
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
