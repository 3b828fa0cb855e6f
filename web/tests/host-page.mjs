// The minimal host page (web/tests/host: no framework, the chat from the
// installed @matrix-sync/chat tarball, signIn then mountChat) signs in like
// the demo and shows the bot's encrypted message in the request's DM,
// decrypted. Started by the Rust test with HOST_URL (the page, served at
// /demo/, its hash carrying idp_token and dm) and OUT_DIR.

import { mkdirSync } from "node:fs";
import { startBrowser } from "./browser-kit.mjs";

const { HOST_URL, OUT_DIR = "test-results" } = process.env;
if (!HOST_URL) {
  console.error("HOST_URL is required");
  process.exit(2);
}
mkdirSync(OUT_DIR, { recursive: true });
const { browser, step, open, check, reportFailure, state, TIMEOUT } = await startBrowser({ outDir: OUT_DIR });

let failed = false;
try {
  const host = await open("host", HOST_URL);
  await check("The minimal host page shows the DM decrypted", async () => {
    const page = host.page;
    if (!(await page.locator('body[data-host="minimal"]').count())) {
      throw new Error("this is not the minimal host page (no body[data-host=minimal])");
    }
    // The chat's own stylesheet was injected (the host imports no CSS of the package).
    if (!(await page.locator("style[data-matrix-sync-chat]").count())) throw new Error("the chat's stylesheet is missing");
    const message = page.locator('.ms-message:not([data-undecryptable="true"])', { hasText: "/requests/" }).first();
    await message.waitFor({ timeout: TIMEOUT }).catch(async (e) => {
      throw new Error(`the bot's message does not read decrypted: ${e.message.split("\n")[0]}\n  page: ${await state(page)}`);
    });
    if ((await message.getAttribute("data-encrypted")) !== "true") throw new Error("the bot's message was not encrypted");
    const text = (await message.locator(".ms-body").innerText()).replace(/\s+/g, " ").trim();
    // No room list on this page: the DM alone.
    if (await page.locator(".ms-rooms").count()) throw new Error("the host asked for no room list, but one is shown");
    step(`the host page reads the bot's message decrypted: "${text}"`);
  });
  step("done");
} catch (e) {
  failed = true;
  await reportFailure(e, OUT_DIR, "host page");
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
