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
import { startBrowser } from "./browser-kit.mjs";

const { ALICE_URL, BOB_URL, CAROL_URL, OUT_DIR = "test-results" } = process.env;
if (!ALICE_URL || !BOB_URL || !CAROL_URL) {
  console.error("ALICE_URL, BOB_URL and CAROL_URL are required");
  process.exit(2);
}
mkdirSync(OUT_DIR, { recursive: true });

const { browser, step, seconds, state, ready, open, close, say, reads, reportFailure } = await startBrowser();

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
  await reportFailure(e, OUT_DIR, "e2e");
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
