// What a member expects of a chat, on the demo page, Alice and Bob each in a
// browser context of their own. Each check is a step of its own (timed, a
// screenshot of both pages in OUT_DIR, a clear reason on failure):
//  1. scrollback: Alice sends 300 messages into General (through the page's
//     client); Bob's page scrolls up until the first one reads decrypted,
//     with the day separator;
//  2. attachments: a picture sent through the attach button in their DM shows
//     decrypted on Bob's page; a file one byte over the homeserver's upload
//     limit is refused with a message and nothing is uploaded;
//  3. names: no text, title, aria-label or alt on either page holds either
//     person's Matrix id or platform id;
//  4. a reply, an edit and a deletion as both see them, "Seen" once Bob has
//     read Alice's message, "Alice Martin is typing…" while she types;
//  5. unread counts: three messages in the council make the Messages tab say
//     3 on Bob's page (data-unread), and 0 once he opens the council;
//  6. an invitation: Alice makes an encrypted room inviting Bob; he accepts
//     it in his room list and reads her message there.
// Started by the Rust test with ALICE_URL, BOB_URL (demo pages with the
// general, council and dm rooms), NAMES ({"alice": {"display_name",
// "matrix_id", "platform_id"}, "bob": {…}}) and OUT_DIR (SCROLLBACK_MESSAGES
// changes the 300 of step 1, for trying things by hand). The checks use the
// chat's client through `window.matrixSyncChat`, which the demo page sets
// only with `test=1` in its hash: added here when the URLs lack it.

import { mkdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { startBrowser, withTestHandle } from "./browser-kit.mjs";
import { png } from "./png.mjs";

const { ALICE_URL, BOB_URL, NAMES, OUT_DIR = "test-results" } = process.env;
if (!ALICE_URL || !BOB_URL || !NAMES) {
  console.error("ALICE_URL, BOB_URL and NAMES are required");
  process.exit(2);
}
const names = JSON.parse(NAMES);
for (const who of ["alice", "bob"]) {
  for (const field of ["display_name", "matrix_id", "platform_id"]) {
    if (!names[who]?.[field]) {
      console.error(`NAMES has no ${who}.${field}`);
      process.exit(2);
    }
  }
}
const rooms = Object.fromEntries(new URLSearchParams(new URL(ALICE_URL).hash.slice(1)));
for (const room of ["general", "council", "dm"]) {
  if (!rooms[room]) {
    console.error(`ALICE_URL's hash has no ${room} room`);
    process.exit(2);
  }
}
mkdirSync(OUT_DIR, { recursive: true });

const kit = await startBrowser({ outDir: OUT_DIR });
const { browser, step, open, say, reads, check, reportFailure, TIMEOUT } = kit;
const run = Date.now().toString(36);

/** The message (readable, not a placeholder) with this text. */
const message = (page, text) => page.locator('.ms-message:not([data-undecryptable="true"])', { hasText: text }).first();

/** Waits for a locator, failing with `what` and the page's state. */
async function expect(locator, what, page, timeout = TIMEOUT) {
  await locator.waitFor({ timeout }).catch(async (e) => {
    throw new Error(`${what} (${e.message.split("\n")[0]})\n  page: ${await kit.state(page)}`);
  });
}

/** Sends a message through the page's client (the embed's handle on window.matrixSyncChat). */
function send(page, room, body) {
  return page.evaluate(
    ([room, body]) => window.matrixSyncChat.client.sendMessage(room, { msgtype: "m.text", body }).then((r) => r.event_id),
    [room, body],
  );
}

let failed = false;
try {
  const [alice, bob] = await Promise.all([open("alice", withTestHandle(ALICE_URL)), open("bob", withTestHandle(BOB_URL))]);

  await check("1. Scrollback to the start of General", async () => {
    // Bob's page is open on General (his device is one the keys are sent to), but offline while
    // Alice writes, as a laptop would be: back online, his next sync brings the latest
    // messages only (a gap), and the keys; the rest comes back as he scrolls up.
    await bob.page.click('button[data-tab="general"]');
    kit.mute("bob", true); // its failing syncs while offline are expected
    await bob.page.context().setOffline(true);
    const total = Number(process.env.SCROLLBACK_MESSAGES ?? 300);
    const text = (i) => `scrollback ${i} of ${total} (${run})`;
    const started = Date.now();
    // In batches of ten at a time (the homeserver takes each send in turn anyway).
    await alice.page.evaluate(
      async ([room, total, run]) => {
        const client = window.matrixSyncChat.client;
        for (let i = 1; i <= total; i += 10) {
          const batch = [];
          for (let j = i; j < i + 10 && j <= total; j++) {
            batch.push(client.sendMessage(room, { msgtype: "m.text", body: `scrollback ${j} of ${total} (${run})` }));
          }
          await Promise.all(batch);
        }
      },
      [rooms.general, total, run],
    );
    step(`alice sent ${total} messages into General in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    await bob.page.context().setOffline(false);
    await expect(message(bob.page, text(total)), `bob's page does not show "${text(total)}" decrypted`, bob.page);
    kit.mute("bob", false);
    const before = await bob.page.locator(".ms-message", { hasText: `of ${total} (${run})` }).count();
    if (before >= total) throw new Error(`bob's page had all ${total} messages without going back: nothing to test`);
    step(`bob's page is back online: ${before} of the ${total} messages in its timeline`);
    // Scroll to the top until the first message is there (each scroll loads a page of history).
    const first = message(bob.page, text(1));
    const deadline = Date.now() + TIMEOUT;
    let scrolls = 0;
    while (!(await first.isVisible())) {
      if (Date.now() > deadline) {
        const shown = await bob.page.locator(".ms-message", { hasText: `(${run})` }).count();
        throw new Error(`"${text(1)}" not shown after ${scrolls} scrolls to the top (${shown} of the ${total} shown)`);
      }
      await bob.page.$eval(".ms-timeline", (list) => list.scrollTo({ top: 0 }));
      scrolls++;
      await bob.page.waitForTimeout(400);
    }
    const readable = await bob.page
      .locator('.ms-message:not([data-undecryptable="true"])', { hasText: `of ${total} (${run})` })
      .count();
    if (readable !== total) throw new Error(`bob's timeline shows ${readable} of the ${total} messages decrypted`);
    const encrypted = await first.getAttribute("data-encrypted");
    if (encrypted !== "true") throw new Error("the first message was not end-to-end encrypted");
    const separator = await bob.page.locator("li.ms-day").first().textContent();
    if (!separator?.trim()) throw new Error("no day separator in the timeline");
    step(`bob reads "${text(1)}" after ${scrolls} scrolls; day separator "${separator.trim()}"; all ${total} decrypted`);
  });

  await check("2. Attachments", async () => {
    await Promise.all([alice.page.click('button[data-tab="dm"]'), bob.page.click('button[data-tab="dm"]')]);
    const name = `pattern-${run}.png`;
    const [chooser] = await Promise.all([alice.page.waitForEvent("filechooser"), alice.page.click(".ms-attach")]);
    await chooser.setFiles({ name, mimeType: "image/png", buffer: png(96, 64) });
    const img = bob.page.locator(`.ms-message img[alt="${name}"]`).first();
    await expect(img, `bob's page shows no picture "${name}"`, bob.page);
    await bob.page
      .waitForFunction((name) => document.querySelector(`.ms-message img[alt="${name}"]`)?.naturalWidth > 0, name, {
        timeout: TIMEOUT,
      })
      .catch(() => {
        throw new Error(`the picture "${name}" never rendered on bob's page (naturalWidth 0)`);
      });
    const sent = await bob.page.evaluate(
      ([room, name]) => {
        const item = document.querySelector(`.ms-message img[alt="${name}"]`)?.closest(".ms-message");
        const event = window.matrixSyncChat.client.getRoom(room)?.findEventById(item?.dataset.eventId ?? "");
        const content = event?.getContent() ?? {};
        return {
          encrypted: item?.dataset.encrypted,
          file: typeof content.file?.url === "string",
          plainUrl: "url" in content,
          w: content.info?.w,
          src: item?.querySelector("img")?.src.slice(0, 5),
        };
      },
      [rooms.dm, name],
    );
    if (sent.encrypted !== "true" || !sent.file || sent.plainUrl) {
      throw new Error(`the picture was not sent as an encrypted attachment: ${JSON.stringify(sent)}`);
    }
    if (sent.w !== 96 || sent.src !== "blob:") throw new Error(`unexpected picture: ${JSON.stringify(sent)}`);
    step(`bob sees "${name}" decrypted (event encrypted, file encrypted, 96 px wide)`);

    // One byte over the homeserver's limit: refused before any upload.
    const limit = await alice.page.evaluate(() =>
      window.matrixSyncChat.client.getMediaConfig(true).then((c) => c["m.upload.size"]),
    );
    if (typeof limit !== "number") throw new Error(`the homeserver gives no upload limit: ${limit}`);
    const bigName = `too-large-${run}.bin`;
    const bigPath = `${OUT_DIR}/${bigName}`;
    writeFileSync(bigPath, "");
    truncateSync(bigPath, limit + 1); // sparse: nothing written
    const uploads = [];
    const watch = (request) => {
      if (/\/_matrix\/(media\/v3|media\/r0|client\/v1\/media)\/upload/.test(request.url())) uploads.push(request.url());
    };
    alice.page.on("request", watch);
    try {
      const [big] = await Promise.all([alice.page.waitForEvent("filechooser"), alice.page.click(".ms-attach")]);
      await big.setFiles(bigPath);
      const notice = alice.page.locator(".ms-notice", { hasText: "larger than" });
      await expect(notice, `no message refusing ${bigName}`, alice.page, 15_000);
      const said = (await notice.textContent()).trim();
      if (!said.includes(bigName) || !/MB this server accepts/.test(said)) throw new Error(`unclear refusal: "${said}"`);
      await alice.page.waitForTimeout(1_500);
      if (uploads.length > 0) throw new Error(`the file too large was uploaded all the same: ${uploads.join(", ")}`);
      step(`a file of ${limit + 1} bytes is refused before any upload: "${said}"`);
    } finally {
      alice.page.off("request", watch);
      rmSync(bigPath, { force: true });
    }
  });

  await check("3. Names, never Matrix ids", async () => {
    const secrets = ["alice", "bob"].flatMap((who) => [names[who].matrix_id, names[who].platform_id]);
    for (const [who, page] of [["alice", alice.page], ["bob", bob.page]]) {
      for (const tab of ["general", "council", "dm", "messages"]) {
        await page.click(`button[data-tab="${tab}"]`);
        await page.waitForTimeout(300);
        const found = await page.evaluate((secrets) => {
          const texts = [document.body.innerText, document.title];
          for (const node of document.querySelectorAll("*")) {
            for (const attribute of ["title", "aria-label", "alt", "placeholder", "aria-description"]) {
              const value = node.getAttribute(attribute);
              if (value) texts.push(value);
            }
          }
          const all = texts.join("\n").toLowerCase();
          return secrets.filter((s) => all.includes(s.toLowerCase()));
        }, secrets);
        if (found.length) throw new Error(`${who}'s page shows ${found.join(", ")} on the ${tab} tab`);
      }
    }
    // And the names are there instead.
    await bob.page.click('button[data-tab="dm"]');
    await expect(bob.page.locator(".ms-sender", { hasText: names.alice.display_name }).first(), `bob's page does not name ${names.alice.display_name}`, bob.page);
    await alice.page.click('button[data-tab="dm"]');
    await expect(alice.page.locator(".ms-room-name", { hasText: names.bob.display_name }), `alice's DM is not titled ${names.bob.display_name}`, alice.page);
    step("no Matrix id or platform id on either page; people show by their names");
  });

  await check("4. Replies, edits, deletions, Seen and typing", async () => {
    const alices = names.alice.display_name;
    const question = `Can you bring the clamps? ${run}`;
    await say(alice.page, "dm", question);
    await reads(bob.page, "bob", "dm", question);

    // Bob replies (mouse), Alice's message quoted above his on both pages.
    const answer = `Yes, two of them. ${run}`;
    const asked = message(bob.page, question);
    await asked.hover();
    await asked.locator(".ms-reply").click();
    await bob.page.fill(".ms-input", answer);
    await bob.page.press(".ms-input", "Enter");
    for (const [who, page] of [["alice", alice.page], ["bob", bob.page]]) {
      const reply = message(page, answer);
      await expect(reply, `${who}'s page does not show the reply`, page);
      const quote = reply.locator(".ms-quote");
      await expect(quote, `${who}'s page shows the reply without its quote`, page);
      const quoted = (await quote.textContent()) ?? "";
      if (!quoted.includes(alices) || !quoted.includes(question)) {
        throw new Error(`${who}'s page quotes "${quoted}", not ${alices}'s "${question}"`);
      }
    }
    step(`bob's reply shows "${alices}: ${question}" above it on both pages`);

    // Alice edits her question (keyboard: the Edit button, then Enter).
    const corrected = `Can you bring the clamps and the saw? ${run}`;
    await message(alice.page, question).locator(".ms-edit").focus();
    await alice.page.keyboard.press("Enter");
    const draft = await alice.page.inputValue(".ms-input");
    if (draft !== question) throw new Error(`editing put "${draft}" in the composer`);
    await alice.page.fill(".ms-input", corrected);
    await alice.page.keyboard.press("Enter");
    for (const [who, page] of [["alice", alice.page], ["bob", bob.page]]) {
      const edited = page.locator('.ms-message[data-edited="true"]', { hasText: corrected }).first();
      await expect(edited, `${who}'s page does not show the edit`, page);
      if (!(await edited.locator(".ms-edited").textContent())?.includes("(edited)")) {
        throw new Error(`${who}'s page does not mark the message "(edited)"`);
      }
    }
    step(`alice's edit shows on both pages: "${corrected}" (edited)`);

    // Alice deletes a message (with its confirmation).
    const mistake = `Wrong room, sorry ${run}`;
    await say(alice.page, "dm", mistake);
    await reads(bob.page, "bob", "dm", mistake);
    const own = message(alice.page, mistake);
    await alice.page.locator('.ms-message[data-event-id^="$"]', { hasText: mistake }).first().waitFor({ timeout: TIMEOUT });
    const id = await alice.page.locator(".ms-message", { hasText: mistake }).first().getAttribute("data-event-id");
    await own.hover();
    await own.locator(".ms-delete").click();
    await alice.page.locator(`.ms-message[data-event-id="${id}"] .ms-confirm-delete`).click();
    for (const [who, page] of [["alice", alice.page], ["bob", bob.page]]) {
      const row = page.locator(`.ms-message[data-event-id="${id}"][data-deleted="true"]`);
      await expect(row, `${who}'s page does not show the deletion`, page);
      const shown = (await row.textContent()) ?? "";
      if (!shown.includes("Message deleted") || shown.includes(mistake)) {
        throw new Error(`${who}'s page shows "${shown}" for the deleted message`);
      }
    }
    step(`the deleted message shows "Message deleted" on both pages`);

    // Seen: not while Bob looks elsewhere, then once he opens the DM.
    await bob.page.click('button[data-tab="general"]');
    const seenText = `Are you around tomorrow? ${run}`;
    await say(alice.page, "dm", seenText);
    await alice.page.locator('.ms-message[data-event-id^="$"]', { hasText: seenText }).first().waitFor({ timeout: TIMEOUT });
    await alice.page.waitForTimeout(1_500);
    if (await message(alice.page, seenText).locator(".ms-seen").count()) {
      throw new Error("alice's message says Seen before bob opened the DM");
    }
    await bob.page.click('button[data-tab="dm"]');
    await expect(
      message(alice.page, seenText).locator(".ms-seen", { hasText: "Seen" }),
      "no Seen under alice's message after bob read it",
      alice.page,
    );
    step(`"Seen" under alice's message once bob opened the DM`);

    // Typing.
    await alice.page.click(".ms-input");
    await alice.page.keyboard.type("I am writing a long ans", { delay: 40 });
    const typing = bob.page.locator(".ms-typing", { hasText: `${alices} is typing…` });
    await expect(typing, `bob's page does not say "${alices} is typing…"`, bob.page, 20_000);
    step(`bob's page says "${(await typing.textContent()).trim()}"`);
    await kit.shots("4-typing");
    await alice.page.fill(".ms-input", "");
    await bob.page
      .waitForFunction(() => !document.querySelector(".ms-typing")?.textContent, null, { timeout: 20_000 })
      .catch(() => {
        throw new Error("bob's page still says someone is typing after alice cleared her message");
      });
  });

  await check("5. Unread counts for the host page", async () => {
    const badge = (n) => `button[data-tab="messages"][data-unread="${n}"]`;
    await bob.page.click('button[data-tab="dm"]');
    await expect(bob.page.locator(badge(0)), "bob's Messages tab does not start at 0 unread", bob.page, 30_000).catch(
      async (e) => {
        const counts = await bob.page.evaluate(() => JSON.stringify(window.matrixSyncChat.unread));
        throw new Error(`${e.message}\n  counts: ${counts}`);
      },
    );
    for (let i = 1; i <= 3; i++) await send(alice.page, rooms.council, `Council note ${i} of 3 (${run})`);
    await expect(bob.page.locator(badge(3)), "bob's Messages tab does not say 3 unread", bob.page).catch(async (e) => {
      const counts = await bob.page.evaluate(() => JSON.stringify(window.matrixSyncChat.unread));
      throw new Error(`${e.message}\n  counts: ${counts}`);
    });
    step("bob's Messages tab says 3 unread (data-unread=\"3\")");
    await kit.shots("5-three-unread");
    await bob.page.click('button[data-tab="council"]');
    await reads(bob.page, "bob", "council", `Council note 3 of 3 (${run})`);
    await expect(bob.page.locator(badge(0)), "bob's Messages tab does not go back to 0 once he opened the council", bob.page);
    // Still 0 once he looks elsewhere: the homeserver has his read receipt.
    await bob.page.click('button[data-tab="dm"]');
    await bob.page.waitForTimeout(3_000);
    if ((await bob.page.getAttribute('button[data-tab="messages"]', "data-unread")) !== "0") {
      const counts = await bob.page.evaluate(() => JSON.stringify(window.matrixSyncChat.unread));
      throw new Error(`the council's count came back after bob left it: ${counts}`);
    }
    step("bob opened the council: 0 unread (and still 0 after he left it)");
  });

  await check("6. An invitation", async () => {
    const bobId = names.bob.matrix_id;
    const title = `Tool library ${run}`;
    const roomId = await alice.page.evaluate(
      ([bobId, title]) =>
        window.matrixSyncChat.client
          .createRoom({
            name: title,
            preset: "private_chat",
            invite: [bobId],
            initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
          })
          .then((r) => r.room_id),
      [bobId, title],
    );
    const invite = bob.page.locator(`.ms-room-item[data-room-id="${roomId}"][data-invite="true"]`);
    await expect(invite, "bob's room list does not show the invitation", bob.page);
    const inviteText = ((await invite.innerText()) ?? "").split("\n").map((l) => l.trim()).filter(Boolean).join(" · ");
    if (!inviteText.includes(title) || !inviteText.includes(names.alice.display_name)) {
      throw new Error(`the invitation reads "${inviteText}"`);
    }
    step(`bob's room list shows the invitation: "${inviteText}"`);
    await invite.locator(".ms-accept").click();
    await expect(
      bob.page.locator(`.ms-room-item[data-room-id="${roomId}"]:not([data-invite])`),
      "bob did not join the room",
      bob.page,
    );
    await expect(bob.page.locator(".ms-room-name", { hasText: title }), "bob's page does not show the room he joined", bob.page);
    await alice.page
      .waitForFunction(
        ([roomId, bobId]) => window.matrixSyncChat.client.getRoom(roomId)?.getMember(bobId)?.membership === "join",
        [roomId, bobId],
        { timeout: TIMEOUT },
      )
      .catch(() => {
        throw new Error("alice's client never saw bob join");
      });
    const welcome = `Welcome to the tool library! ${run}`;
    await send(alice.page, roomId, welcome);
    const read = message(bob.page, welcome);
    await expect(read, `bob does not read "${welcome}"`, bob.page);
    if ((await read.getAttribute("data-encrypted")) !== "true") throw new Error("the room's message was not encrypted");
    step(`bob accepted, joined and reads "${welcome}" (encrypted)`);
  });
  step("done: all six checks passed");
} catch (e) {
  failed = true;
  await reportFailure(e, OUT_DIR, "chat features");
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
