// The framework-free chat embed: a Matrix client with end-to-end encryption
// (matrix-js-sdk's Rust crypto, WASM) and a small UI of our own: a room list
// with unread counts, a timeline and a composer.
//
// Each (user, device) has its own crypto store in IndexedDB
// (`cryptoStorePrefix`), so a reload on the same device reuses its keys. With
// the user's key backup (from `/v1/sessions`), every room key this device
// gets is uploaded to the backup, and keys of messages sent before this
// device existed are restored from it.
//
// The mount element carries what a page (or a test) can wait for:
//   data-device-id          the Matrix device id, once known
//   data-chat-ready="true"  after the first sync, with the crypto ready
//   data-key-backup         "active" (keys are uploaded), "inactive" (the key does not
//                           match the homeserver's latest backup), "none" (no backup)
//   data-backup-restored    "true" once the first restore from the backup finished,
//                           "error" if it failed, "none" without a backup
//   data-chat-error         why the chat stopped (sign-in, crypto start, signed out)
//   data-keys-backed-up-at  when (ms since the epoch) the device last had every room key
//                           it holds in the backup (an upload runs 0-10 s after a new key)
// and each message `<li class="ms-message">` has data-event-id, data-encrypted, and
// data-undecryptable="true" (plus data-waiting-for-key="true" while a restore from the
// backup may still bring its key) when it cannot be read.
//
// Nothing here logs tokens or keys.

import {
  ClientEvent,
  createClient,
  decodeBase64,
  HttpApiEvent,
  MatrixEvent,
  MatrixEventEvent,
  MsgType,
  RoomEvent,
  SyncState,
  type MatrixClient,
  type Room,
} from "matrix-js-sdk";
import { CryptoEvent } from "matrix-js-sdk/lib/crypto-api/index.js";
import { cryptoStorePrefix, type KeyBackupKey } from "./session";

export type { KeyBackupKey } from "./session";

export interface ChatOptions {
  homeserverUrl: string;
  accessToken: string;
  /** Who the token belongs to; asked of the homeserver when not given. */
  userId?: string;
  deviceId?: string;
  /** The room shown first; others can be picked from the list. */
  roomId?: string;
  /** Show the list of rooms and DMs (the Messages page). Default true. */
  showRoomList?: boolean;
  /**
   * The user's key backup (`key_backup` of `/v1/sessions`): room keys this device receives
   * are uploaded to it, and keys of earlier messages are restored from it. Absent or null:
   * no backup (a new device then cannot read messages sent before it existed).
   */
  keyBackup?: KeyBackupKey | null;
}

export interface ChatHandle {
  /** The Matrix client, once the session is known (after `ready`). */
  client?: MatrixClient;
  /** Resolves once the first sync is done and the crypto is ready; rejects if the chat cannot start. */
  ready: Promise<void>;
  showRoom(roomId: string): void;
  destroy(): void;
}

/** The least time between two restores from the key backup. */
const RESTORE_GAP_MS = 5_000;
/** Further restores while messages still lack keys (a key may reach the backup a little later). */
const RESTORE_FOLLOW_UPS_MS = [5_000, 10_000, 20_000, 40_000];
/** Failures that are about trusting the sender, not a missing key: no backup helps. */
const TRUST_FAILURES = new Set(["SENDER_IDENTITY_PREVIOUSLY_VERIFIED", "UNSIGNED_SENDER_DEVICE", "UNKNOWN_SENDER_DEVICE"]);

const CANNOT_READ = "[encrypted message this device cannot read]";
const WAITING = "[waiting for this message's key…]";

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A failure whose key could still come (from the backup). */
function lacksKey(event: MatrixEvent): boolean {
  const reason: string | null = event.decryptionFailureReason;
  return event.isDecryptionFailure() && !TRUST_FAILURES.has(reason ?? "");
}

interface Shown {
  text: string;
  undecryptable: boolean;
  waiting: boolean;
}

function describe(event: MatrixEvent, keyMayArrive: boolean): Shown | null {
  if (event.isDecryptionFailure()) {
    // A message sent before this device existed has no key for it, unless the backup has it.
    const waiting = keyMayArrive && lacksKey(event);
    return { text: waiting ? WAITING : CANNOT_READ, undecryptable: true, waiting };
  }
  // Not decrypted yet (it is being decrypted): shown once it is.
  if (event.getType() === "m.room.encrypted") return null;
  if (event.getType() !== "m.room.message") return null;
  const body = event.getContent()["body"];
  return typeof body === "string" ? { text: body, undecryptable: false, waiting: false } : null;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Who an access token belongs to (`/account/whoami`). */
async function whoami(homeserverUrl: string, accessToken: string): Promise<{ userId: string; deviceId: string }> {
  const response = await fetch(`${homeserverUrl.replace(/\/$/, "")}/_matrix/client/v3/account/whoami`, {
    headers: { Authorization: `Bearer ${accessToken}` },
  });
  if (!response.ok) throw new Error(`the homeserver does not accept this token (${response.status})`);
  const body = await response.json();
  if (typeof body?.user_id !== "string" || typeof body?.device_id !== "string") {
    throw new Error("the homeserver did not say which device this token is for");
  }
  return { userId: body.user_id, deviceId: body.device_id };
}

export function mountChat(element: HTMLElement, options: ChatOptions): ChatHandle {
  // Filled in once the session is known; the UI below only reads it then.
  let client!: MatrixClient;
  let destroyed = false;
  const keyBackup = options.keyBackup ?? null;

  const root = el("div", "ms-chat");
  const list = el("ul", "ms-rooms");
  const pane = el("section", "ms-room");
  const title = el("h2", "ms-room-name", "Loading chat…");
  const timeline = el("ol", "ms-timeline");
  const form = el("form", "ms-composer");
  const input = el("input", "ms-input");
  input.placeholder = "Write a message";
  input.setAttribute("aria-label", "Message");
  const send = el("button", "ms-send", "Send");
  send.type = "submit";
  form.append(input, send);
  pane.append(title, timeline, form);
  if (options.showRoomList !== false) root.append(list);
  root.append(pane);
  element.replaceChildren(root);
  const attributes = ["deviceId", "chatReady", "keyBackup", "backupRestored", "chatError", "keysBackedUpAt"];
  for (const name of attributes) delete element.dataset[name];

  let current: string | undefined = options.roomId;
  let failed: string | undefined; // the chat stopped: shown instead of the room name

  // ---- Restoring keys from the backup (after the first sync, and when messages lack keys) ----
  let synced = false;
  let restoring = false;
  let restoreAgain = false;
  let restoreTimer: ReturnType<typeof setTimeout> | undefined;
  let restoreDueAt = 0;
  let lastRestoreStart = -Infinity;
  let firstRestoreDone = false;
  let followUps = 0;
  /** Megolm sessions seen failing; a new one restarts the follow-up restores. */
  const failedSessions = new Set<string>();

  /** Whether a restore is still to come (so a missing key may yet arrive). */
  const keyMayArrive = () =>
    keyBackup !== null && !failed && (!firstRestoreDone || restoring || restoreTimer !== undefined);

  const requestRestore = (delayMs = 0) => {
    if (!keyBackup || destroyed || failed || !synced) return; // the first one comes after the first sync
    if (restoring) {
      restoreAgain = true;
      return;
    }
    const at = Math.max(Date.now() + delayMs, lastRestoreStart + RESTORE_GAP_MS);
    if (restoreTimer !== undefined) {
      if (at >= restoreDueAt) return; // one is already coming sooner
      clearTimeout(restoreTimer);
    }
    restoreDueAt = at;
    restoreTimer = setTimeout(() => void runRestore(), Math.max(0, at - Date.now()));
  };

  const anyLacksKey = () =>
    client.getRooms().some((room) => room.getLiveTimeline().getEvents().some(lacksKey));

  const runRestore = async () => {
    restoreTimer = undefined;
    const crypto = client.getCrypto();
    if (!crypto || destroyed) return;
    restoring = true;
    lastRestoreStart = Date.now();
    let ok = false;
    try {
      // Keys imported here make the SDK decrypt the events waiting for them (MatrixEventEvent.Decrypted).
      await crypto.restoreKeyBackup();
      ok = true;
    } catch (e) {
      console.warn(`matrix-sync chat: restoring keys from the backup failed: ${errorText(e)}`);
    }
    restoring = false;
    if (destroyed) return;
    if (!firstRestoreDone) {
      firstRestoreDone = true;
      element.dataset["backupRestored"] = ok ? "true" : "error";
    }
    if (restoreAgain) {
      restoreAgain = false;
      requestRestore();
    } else if (anyLacksKey() && followUps < RESTORE_FOLLOW_UPS_MS.length) {
      requestRestore(RESTORE_FOLLOW_UPS_MS[followUps++]);
    }
    rerender(); // "waiting for its key" may have become "cannot read"
  };

  const onDecrypted = (event: MatrixEvent, err?: Error) => {
    if (err && lacksKey(event)) {
      const session = event.getWireContent()["session_id"];
      const key = `${event.getRoomId() ?? ""}|${typeof session === "string" ? session : ""}`;
      if (!failedSessions.has(key)) {
        failedSessions.add(key);
        followUps = 0;
        requestRestore();
      }
    }
    rerender();
  };

  // ---- Rendering ----
  const roomName = (room: Room) => room.name || room.roomId;
  let lastReceipt: string | undefined;

  const renderList = () => {
    const rooms = client.getRooms().filter((r) => r.getMyMembership() === "join");
    rooms.sort((a, b) => roomName(a).localeCompare(roomName(b)));
    list.replaceChildren(
      ...rooms.map((room) => {
        const item = el("li", room.roomId === current ? "ms-room-item ms-current" : "ms-room-item");
        const unread = room.getUnreadNotificationCount() ?? 0;
        item.append(el("span", "ms-room-title", roomName(room)));
        if (unread > 0) item.append(el("span", "ms-unread", String(unread)));
        item.dataset["roomId"] = room.roomId;
        item.addEventListener("click", () => handle.showRoom(room.roomId));
        return item;
      }),
    );
  };

  const renderRoom = () => {
    if (failed) {
      title.textContent = failed;
      return;
    }
    const room = current ? client.getRoom(current) : null;
    if (!room) {
      title.textContent = current ? "Joining…" : "Pick a room";
      timeline.replaceChildren();
      return;
    }
    title.textContent = roomName(room);
    const mayArrive = keyMayArrive();
    const items = room
      .getLiveTimeline()
      .getEvents()
      .map((event) => {
        const shown = describe(event, mayArrive);
        if (shown === null) return null;
        const sender = room.getMember(event.getSender() ?? "")?.name ?? event.getSender() ?? "";
        const item = el("li", shown.undecryptable ? "ms-message ms-undecryptable" : "ms-message");
        item.dataset["eventId"] = event.getId() ?? "";
        item.dataset["encrypted"] = String(event.isEncrypted());
        if (shown.undecryptable) item.dataset["undecryptable"] = "true";
        if (shown.waiting) item.dataset["waitingForKey"] = "true";
        item.append(el("span", "ms-sender", sender), el("span", "ms-body", shown.text));
        return item;
      })
      .filter((item): item is HTMLLIElement => item !== null);
    timeline.replaceChildren(...items);
    timeline.scrollTop = timeline.scrollHeight;
    // Receipts only for events the server has (not local echoes), once each.
    const last = room.getLiveTimeline().getEvents().at(-1);
    const lastId = last?.getId();
    if (last && !last.status && lastId?.startsWith("$") && lastId !== lastReceipt) {
      lastReceipt = lastId;
      void client.sendReadReceipt(last).catch(() => undefined);
    }
  };

  const rerender = () => {
    if (!handle.client || destroyed) return; // not signed in yet
    renderList();
    renderRoom();
  };

  const stop = (reason: string, code: string) => {
    failed = reason;
    element.dataset["chatError"] = code;
    title.textContent = reason;
    if (restoreTimer !== undefined) clearTimeout(restoreTimer);
    restoreTimer = undefined;
  };

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || !current || failed || !handle.client) return;
    input.value = "";
    void client.sendMessage(current, { msgtype: MsgType.Text, body: text }).catch((err: unknown) => {
      title.textContent = `Could not send: ${errorText(err)}`;
    });
  });

  const handle: ChatHandle = {
    ready: Promise.resolve(),
    showRoom(roomId: string) {
      current = roomId;
      rerender();
    },
    destroy() {
      destroyed = true;
      if (restoreTimer !== undefined) clearTimeout(restoreTimer);
      restoreTimer = undefined;
      // Stopping the client also stops its crypto (and closes the crypto store).
      handle.client?.stopClient();
      handle.client?.removeAllListeners();
      for (const name of attributes) delete element.dataset[name];
      element.replaceChildren();
    },
  };

  handle.ready = (async () => {
    const who =
      options.userId && options.deviceId
        ? { userId: options.userId, deviceId: options.deviceId }
        : await whoami(options.homeserverUrl, options.accessToken);
    if (destroyed) return;
    element.dataset["deviceId"] = who.deviceId;
    client = createClient({
      baseUrl: options.homeserverUrl,
      accessToken: options.accessToken,
      userId: who.userId,
      deviceId: who.deviceId,
    });
    handle.client = client;
    client.on(RoomEvent.Timeline, rerender);
    client.on(RoomEvent.Receipt, renderList);
    client.on(MatrixEventEvent.Decrypted, onDecrypted);
    client.on(ClientEvent.Room, rerender);
    client.on(CryptoEvent.KeyBackupSessionsRemaining, (remaining: number) => {
      if (remaining === 0) element.dataset["keysBackedUpAt"] = String(Date.now());
    });
    client.on(HttpApiEvent.SessionLoggedOut, () => {
      stop("This chat session has ended: reload the page to sign in again.", "signed_out");
      client.stopClient();
    });

    // One store per user and device: the same device finds its keys again after a reload, and
    // another device of the same user never opens a store that is not its own.
    try {
      await client.initRustCrypto({ cryptoDatabasePrefix: cryptoStorePrefix(who.userId, who.deviceId) });
    } catch (e) {
      // E.g. a store that belongs to another account. Never start this device on a fresh store
      // (its keys would not match what others know of it): the page has to sign in again.
      stop(`Could not start end-to-end encryption: ${errorText(e)}`, "crypto");
      throw e;
    }
    if (destroyed) {
      client.stopClient();
      return;
    }
    const crypto = client.getCrypto();
    if (keyBackup && crypto) {
      try {
        await crypto.storeSessionBackupPrivateKey(decodeBase64(keyBackup.privateKey), keyBackup.version);
        // Upload every room key this device gets. The crypto's own check at start-up may still be
        // running (without the key) and a call during it returns that same check: so check again
        // if the first did not enable the backup.
        let check = await crypto.checkKeyBackupAndEnable();
        if ((await crypto.getActiveSessionBackupVersion()) !== keyBackup.version) {
          check = await crypto.checkKeyBackupAndEnable();
        }
        const active = await crypto.getActiveSessionBackupVersion();
        if (active === keyBackup.version) {
          element.dataset["keyBackup"] = "active";
        } else {
          element.dataset["keyBackup"] = "inactive";
          console.warn(
            `matrix-sync chat: key backup version ${keyBackup.version} is not used for uploads ` +
              `(the homeserver's latest backup: ${check?.backupInfo?.version ?? "none"}; ` +
              `its key matches: ${String(check?.trustInfo.matchesDecryptionKey ?? false)})`,
          );
        }
      } catch (e) {
        element.dataset["keyBackup"] = "inactive";
        console.warn(`matrix-sync chat: could not set up the key backup: ${errorText(e)}`);
      }
    } else {
      element.dataset["keyBackup"] = "none";
      element.dataset["backupRestored"] = "none";
    }
    if (destroyed) {
      client.stopClient();
      return;
    }

    const prepared = new Promise<void>((resolve) => {
      const onSync = (state: SyncState) => {
        if (state === SyncState.Prepared || state === SyncState.Syncing) {
          client.off(ClientEvent.Sync, onSync);
          resolve();
        }
      };
      client.on(ClientEvent.Sync, onSync);
    });
    await client.startClient({ initialSyncLimit: 30 });
    await prepared;
    if (destroyed) return;
    synced = true;
    element.dataset["chatReady"] = "true";
    rerender();
    // In the background: keys of messages sent before this device existed.
    requestRestore();
  })();
  handle.ready.catch((e: unknown) => {
    if (!failed && !destroyed) stop(`Could not start the chat: ${errorText(e)}`, "start");
  });

  return handle;
}
