// For trying the browser scripts by hand against a running `make demo`:
// creates fresh people (Alice Martin, Bob Keller, Carol Diaz), a community
// with an encrypted General room, a council and accepted requests (their
// DMs) through matrix-sync's API, and prints, as shell assignments, what the
// Rust tests give the scripts: ALICE_URL, BOB_URL, CAROL_URL, NAMES,
// HOST_URL, ROOMS. The demo pages' hashes carry `test=1` (the page then sets
// window.matrixSyncChat, which chat-features.mjs uses).
//
//   eval "$(node tests/dev-fixture.mjs)" && OUT_DIR=/tmp/shots node tests/chat-features.mjs
//
// The service serves only the demo page at /demo/, so HOST_URL points at
// HOST_BASE (default http://127.0.0.1:4174), where the minimal host page's
// build is served with /v1/ passed on to the service:
//
//   (cd tests/host && MATRIX_SYNC_URL=http://<MATRIX_SYNC_LISTEN> npx vite preview --port 4174) &
//   node tests/host-page.mjs
//
// Reads the service's settings from DEMO_DIR (default ../.dev/demo: its `env`
// and `idp.url`). The tokens it prints are the test identity provider's.

import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const demoDir = process.env.DEMO_DIR ?? join(here, "../../.dev/demo");
const env = Object.fromEntries(
  readFileSync(join(demoDir, "env"), "utf8")
    .split("\n")
    .map((line) => line.match(/^([A-Z_]+)=(.*)$/))
    .filter(Boolean)
    .map((m) => [m[1], m[2]]),
);
const base = `http://${env.MATRIX_SYNC_LISTEN}`;
const idp = readFileSync(join(demoDir, "idp.url"), "utf8").trim();

async function api(method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${env.MATRIX_SYNC_API_TOKEN}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function token(user) {
  const response = await fetch(`${idp}/token?sub=${user}`);
  if (!response.ok) throw new Error(`identity provider: ${response.status}`);
  const text = (await response.text()).trim();
  try {
    const parsed = JSON.parse(text);
    return parsed.access_token ?? parsed.token ?? text;
  } catch {
    return text;
  }
}

const community = randomUUID();
const council = randomUUID();
const people = { alice: ["Alice Martin", randomUUID()], bob: ["Bob Keller", randomUUID()], carol: ["Carol Diaz", randomUUID()] };

await api("PUT", `/v1/communities/${community}?wait=30`, {
  name: "Makers' Collective",
  config: { matrixGeneralChatEncrypted: true },
});
const names = {};
for (const [key, [name, id]] of Object.entries(people)) {
  const user = await api("PUT", `/v1/users/${id}`, { display_name: name });
  await api("PUT", `/v1/communities/${community}/members/${id}?wait=30`, { trust_score: 10 });
  names[key] = { display_name: name, matrix_id: user.matrix_user_id, platform_id: id };
}
await api("PUT", `/v1/councils/${council}?wait=30`, { community_id: community, name: "Stewards" });
for (const key of ["alice", "bob"]) {
  await api("PUT", `/v1/councils/${council}/members/${people[key][1]}?wait=30`, {});
}
const general = (await api("GET", `/v1/communities/${community}`)).matrix_room_id;
const councilRoom = (await api("GET", `/v1/councils/${council}`)).matrix_room_id;
const accept = (requester, title) =>
  api("POST", `/v1/requests/${randomUUID()}/accept?wait=30`, {
    community_id: community,
    requester_id: people[requester][1],
    owner_id: people.alice[1],
    title,
  });
const dm = (await accept("bob", "Oak table")).matrix_room_id;
const carolsDm = (await accept("carol", "Drill")).matrix_room_id;

/** A person's demo page, as the Rust tests build it (plus `test=1`). */
async function page(key, dmRoom) {
  const hash = new URLSearchParams({
    idp_token: await token(people[key][1]),
    name: people[key][0].split(" ")[0],
    general,
    council: councilRoom,
    dm: dmRoom,
    test: "1",
  });
  return `${base}/demo/#${hash}`;
}

/** The minimal host page (its hash: the token and the DM only), served at HOST_BASE. */
async function hostPage(key, dmRoom) {
  const hostBase = process.env.HOST_BASE ?? "http://127.0.0.1:4174";
  const hash = new URLSearchParams({ idp_token: await token(people[key][1]), dm: dmRoom });
  return `${hostBase}/demo/#${hash}`;
}

const quote = (s) => `'${String(s).replace(/'/g, "'\\''")}'`;
const out = {
  ALICE_URL: await page("alice", dm),
  BOB_URL: await page("bob", dm),
  CAROL_URL: await page("carol", carolsDm),
  HOST_URL: await hostPage("carol", carolsDm),
  NAMES: JSON.stringify(names),
  ROOMS: [general, councilRoom, dm].join(","),
};
for (const [k, v] of Object.entries(out)) console.log(`export ${k}=${quote(v)}`);
