// Encrypted history at scale on a new browser: Alice writes PER_ROOM messages
// in each of the ROOMS (end-to-end encrypted; her device uploads their keys
// to her key backup), closes that browser, and signs in from a fresh one (a
// new device). Measured from the page's opening (sign-in included): until
// the chat is ready, until the first earlier message reads decrypted, and
// until every earlier message the timeline shows in every room does.
// Started by the Rust test `history_of_five_rooms_reads_on_a_new_browser`
// with ALICE_URL, ROOMS (room ids, comma-separated), PER_ROOM and OUT_DIR.

import { mkdirSync } from "node:fs";
import { startBrowser } from "./browser-kit.mjs";

const { ALICE_URL, ROOMS, PER_ROOM = "40", OUT_DIR = "test-results" } = process.env;
if (!ALICE_URL || !ROOMS) {
  console.error("ALICE_URL and ROOMS are required");
  process.exit(2);
}
const rooms = ROOMS.split(",");
const perRoom = Number(PER_ROOM);
mkdirSync(OUT_DIR, { recursive: true });
const { browser, step, seconds, state, open, close, reportFailure } = await startBrowser();
const TIMEOUT = 120_000;

/** Shows a room through the room list. */
async function show(page, roomId) {
  await page.click(`.ms-room-item[data-room-id="${roomId}"]`);
}

/** The texts the timeline shows now, readable ones only. */
async function readable(page) {
  return page.$$eval('.ms-message:not([data-undecryptable="true"]) .ms-body', (nodes) => nodes.map((n) => n.textContent));
}

let failed = false;
try {
  const writer = await open("alice", ALICE_URL);
  const run = Date.now();
  const written = [];
  // When the last room key was made (a room's first message makes its key):
  // the backup is complete once an upload has ended after it.
  let lastKeyAt = 0;
  for (const [r, roomId] of rooms.entries()) {
    await show(writer.page, roomId);
    lastKeyAt = Date.now();
    for (let i = 0; i < perRoom; i++) {
      const text = `history ${run} room ${r} message ${i}`;
      await writer.page.fill(".ms-input", text);
      await writer.page.click(".ms-send");
      written.push(text);
    }
    // Every one of them sent (the server gave it an event id).
    const last = `history ${run} room ${r} message ${perRoom - 1}`;
    await writer.page.locator('.ms-message[data-event-id^="$"]', { hasText: last }).first().waitFor({ timeout: TIMEOUT });
  }
  const sentAt = Date.now();
  step(`alice wrote ${written.length} messages in ${rooms.length} rooms`);
  await writer.page.waitForFunction(
    (since) => Number(document.querySelector("[data-keys-backed-up-at]")?.getAttribute("data-keys-backed-up-at")) > since,
    lastKeyAt,
    { timeout: TIMEOUT },
  );
  step(`their keys are in her backup (${seconds(sentAt)}s after the last was sent)`);
  await close("alice");

  const fresh = await open("alice-new-browser", ALICE_URL);
  const readyAfter = seconds(fresh.opened);
  // The first room shown: the first earlier message that reads.
  await show(fresh.page, rooms[0]);
  await fresh.page
    .locator('.ms-message:not([data-undecryptable="true"])', { hasText: `history ${run} room 0` })
    .first()
    .waitFor({ timeout: TIMEOUT });
  const firstAfter = seconds(fresh.opened);
  // Every room: each earlier message its timeline shows reads.
  let shown = 0;
  for (const [r, roomId] of rooms.entries()) {
    await show(fresh.page, roomId);
    const last = `history ${run} room ${r} message ${perRoom - 1}`;
    await fresh.page.waitForFunction(
      (last) => {
        const items = [...document.querySelectorAll(".ms-message")];
        return items.some((i) => i.textContent?.includes(last)) && !items.some((i) => i.dataset.undecryptable === "true");
      },
      last,
      { timeout: TIMEOUT },
    ).catch(async (e) => {
      throw new Error(`room ${r} (${roomId}) did not read whole: ${e.message}\n${await state(fresh.page)}`);
    });
    shown += (await readable(fresh.page)).filter((t) => t?.startsWith(`history ${run} room ${r} `)).length;
  }
  const allAfter = seconds(fresh.opened);
  await fresh.page.screenshot({ path: `${OUT_DIR}/history-new-browser.png` });
  step(
    `new browser (device ${fresh.device}), ${written.length} backed-up messages in ${rooms.length} rooms: ` +
      `chat ready ${readyAfter}s after the page opened (sign-in included); first earlier message decrypted ${firstAfter}s; ` +
      `every earlier message shown in all ${rooms.length} rooms (${shown}) decrypted ${allAfter}s`,
  );
} catch (e) {
  failed = true;
  await reportFailure(e, OUT_DIR, "history timing");
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
