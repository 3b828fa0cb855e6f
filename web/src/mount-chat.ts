// The framework-free chat embed: a Matrix client with end-to-end encryption
// (matrix-js-sdk's Rust crypto, WASM) and a UI of our own: a room list with
// invitations and unread counts, the timeline, and a composer. This file
// starts the client and wires the parts (one job each) to its events.
//
// Each (user, device) has its own crypto store in IndexedDB
// (`cryptoStorePrefix`), so a reload on the same device reuses its keys. With
// the user's key backup (from `/v1/sessions`), every room key this device
// gets is uploaded to the backup, and keys of messages sent before this
// device existed are restored from it (key-backup.ts).
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
// backup may still bring its key) when it cannot be read. None is written after `destroy()`.
//
// Nothing here logs tokens or keys.

import {
  ClientEvent,
  createClient,
  HttpApiEvent,
  KnownMembership,
  MatrixEventEvent,
  RoomEvent,
  RoomMemberEvent,
  RoomStateEvent,
  SyncState,
  type MatrixClient,
  type Room,
} from "matrix-js-sdk";
import { Announcer } from "./announcer.js";
import { Attachments } from "./attachments.js";
import { ChatDestroyedError, type ChatHandle, type ChatOptions } from "./chat-api.js";
import { ChatPage } from "./chat-page.js";
import { Composer } from "./composer.js";
import type { ChatContext } from "./context.js";
import { errorText } from "./dom.js";
import { KeyBackup } from "./key-backup.js";
import { Media } from "./media.js";
import { watchRedactions } from "./message.js";
import { People } from "./names.js";
import { Notices } from "./notices.js";
import { ReadMarker } from "./receipts.js";
import { RoomList } from "./room-list.js";
import { cryptoStorePrefix } from "./session.js";
import { injectStyles } from "./styles.js";
import { Timeline } from "./timeline.js";
import { TypingNotifier, typingText } from "./typing.js";
import { UnreadStore, UnreadTracker } from "./unread.js";

export { ChatDestroyedError, type ChatHandle, type ChatOptions } from "./chat-api.js";
export type { KeyBackupKey } from "./session.js";
export type { UnreadCounts } from "./unread.js";

/** Re-renders come at most this often (events arrive in bursts: a sync, a page of history). */
const RENDER_GAP_MS = 30;
/** How long `destroy()` waits for the "stopped typing" to reach the server before stopping the client. */
const TYPING_STOP_WAIT_MS = 500;
/** The data attributes of the mount element (cleared on mount and on destroy). */
const ATTRIBUTES = ["deviceId", "chatReady", "keyBackup", "backupRestored", "chatError", "keysBackedUpAt"];

/** Who an access token belongs to (`/account/whoami`). */
async function whoami(homeserverUrl: string, accessToken: string): Promise<{ userId: string; deviceId: string }> {
  const response = await fetch(`${homeserverUrl.replace(/\/$/, "")}/_matrix/client/v3/account/whoami`, {
    headers: { Authorization: `Bearer ${accessToken}` },
  });
  if (!response.ok) throw new Error(`the homeserver does not accept this token (${response.status})`);
  const body = (await response.json()) as { user_id?: unknown; device_id?: unknown };
  if (typeof body.user_id !== "string" || typeof body.device_id !== "string") {
    throw new Error("the homeserver did not say which device this token is for");
  }
  return { userId: body.user_id, deviceId: body.device_id };
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function mountChat(element: HTMLElement, options: ChatOptions): ChatHandle {
  if (options.injectStyles !== false) injectStyles(element);
  const hasList = options.showRoomList !== false;
  let client!: MatrixClient; // set once the session is known; nothing below reads it before
  let destroyed = false;
  let destroying: Promise<void> | undefined;
  let failed: string | undefined; // the chat stopped: shown instead of the room name
  let current: string | undefined = options.roomId;
  /** The person picked a room at phone width: the heading takes the focus once it shows the room. */
  let focusHeading = false;

  // Every wait of the start-up races this, so `destroy()` ends it (and `ready` rejects) at once.
  let onDestroy!: () => void;
  const whenDestroyed = new Promise<never>((_, reject) => (onDestroy = () => reject(new ChatDestroyedError())));
  whenDestroyed.catch(() => undefined);
  const alive = <T>(promise: Promise<T>): Promise<T> => Promise.race([promise, whenDestroyed]);

  const page = new ChatPage(hasList, hasList && !current);
  const notices = new Notices();
  for (const name of ATTRIBUTES) delete element.dataset[name];
  element.replaceChildren(page.root);

  // ---- Rendering (coalesced) ----
  let renderTimer: ReturnType<typeof setTimeout> | undefined;
  let lastRender = 0;
  const refresh = () => {
    if (renderTimer !== undefined || destroyed) return;
    renderTimer = setTimeout(() => {
      renderTimer = undefined;
      lastRender = Date.now();
      render();
    }, Math.max(0, lastRender + RENDER_GAP_MS - Date.now()));
  };

  const showRoom = (roomId: string, how: { byPerson?: boolean } = {}) => {
    const changed = roomId !== current;
    current = roomId;
    if (changed) notices.show("");
    page.showView("room");
    if (how.byPerson) {
      if (page.listHidden()) focusHeading = true;
      if (changed && handle.client) options.onRoomChange?.(roomId);
    }
    refresh();
  };

  let keyBackup: KeyBackup | undefined;
  let parts:
    | { ctx: ChatContext; media: Media; typing: TypingNotifier; unread: UnreadTracker; roomList?: RoomList;
        timeline: Timeline; composer: Composer; readMarker: ReadMarker; announcer: Announcer }
    | undefined;

  const handle: ChatHandle = {
    ready: Promise.resolve(),
    get unread() {
      return parts?.unread.current ?? { total: 0, rooms: {} };
    },
    showRoom: (roomId) => showRoom(roomId),
    destroy() {
      if (destroying) return destroying;
      destroyed = true;
      onDestroy();
      keyBackup?.stop();
      if (renderTimer !== undefined) clearTimeout(renderTimer);
      document.removeEventListener("visibilitychange", refresh);
      parts?.media.destroy();
      for (const name of ATTRIBUTES) delete element.dataset[name];
      element.replaceChildren();
      const stopping = handle.client;
      const typing = parts?.typing;
      destroying = (async () => {
        // Otherwise the others read "… is typing" until it times out on the server (20 s).
        if (typing) await Promise.race([typing.stop(), delay(TYPING_STOP_WAIT_MS)]);
        // Stopping the client also stops its crypto (and closes the crypto store).
        stopping?.stopClient();
        stopping?.removeAllListeners();
      })();
      return destroying;
    },
  };

  const joinedRoom = (): Room | null => {
    const room = current ? client.getRoom(current) : null;
    return room?.getMyMembership() === KnownMembership.Join ? room : null;
  };

  /** What the heading says when no joined room is on screen. */
  const noRoomTitle = (): string => {
    const known = current ? client.getRoom(current) : null;
    if (known?.getMyMembership() === KnownMembership.Invite) {
      return parts?.roomList?.joining(known.roomId) ? "Joining…" : "Accept the invitation to read this room";
    }
    if (!current) return "Pick a conversation";
    // Before the first sync the room may just not be known yet.
    return element.dataset["chatReady"] === "true" ? "You are not in this conversation" : "Loading chat…";
  };

  const render = () => {
    if (!parts || destroyed) return;
    const { ctx, unread, roomList, timeline, composer, readMarker, announcer } = parts;
    const room = failed ? null : joinedRoom();
    const onScreen = room !== null && page.roomOnScreen();
    // Counts only from the first sync on (partial ones before would reach the host).
    if (element.dataset["chatReady"] === "true") unread.update(onScreen ? room.roomId : undefined);
    roomList?.render(current);
    if (failed) {
      // Nothing on screen may suggest the chat still works.
      page.title.textContent = failed;
      timeline.render(null);
      composer.setDisabled(true);
      page.typingLine.textContent = "";
      announcer.flush(null, false);
      return;
    }
    page.title.textContent = room ? ctx.people.roomTitle(room) : noRoomTitle();
    if (focusHeading && page.pane.getClientRects().length > 0) {
      focusHeading = false;
      page.title.focus();
    }
    timeline.render(room);
    composer.setRoom(room?.roomId);
    page.typingLine.textContent = room ? typingText(room, ctx.me, ctx.people) : "";
    announcer.flush(onScreen ? room : null, ctx.keyMayArrive());
    if (onScreen) readMarker.markRead(room);
  };

  const stop = (reason: string, code: string) => {
    if (destroyed) return; // the element may already belong to someone else
    failed = reason;
    element.dataset["chatError"] = code;
    page.title.textContent = reason;
    keyBackup?.stop();
    refresh();
  };

  /** Builds the parts once the client exists. */
  const build = (me: string) => {
    const media = new Media(client);
    const people = new People(client, media, refresh, options.serviceUsers);
    const ctx: ChatContext = {
      client,
      me,
      people,
      media,
      room: joinedRoom,
      showRoom,
      keyMayArrive: () => !failed && (keyBackup?.keyMayArrive() ?? false),
      refresh,
      notice: (text, kind) => notices.show(text, kind),
      unreadCount: (roomId) => parts?.unread.current.rooms[roomId] ?? 0,
    };
    const typing = new TypingNotifier(client);
    const attachments = new Attachments(ctx);
    const composer = new Composer(ctx, attachments, typing);
    const timeline = new Timeline(ctx, {
      reply: (m) => composer.startReply(m),
      edit: (m) => composer.startEdit(m),
    });
    const roomList = hasList ? new RoomList(ctx) : undefined;
    const announcer = new Announcer(me, people);
    parts = {
      ctx, media, typing, roomList, timeline, composer, announcer,
      unread: new UnreadTracker(client, unreadStore, options.onUnread),
      readMarker: new ReadMarker(client),
    };
    timeline.element.setAttribute("aria-labelledby", page.title.id);
    if (roomList) page.sidebar.append(roomList.element);
    page.pane.append(timeline.element, page.typingLine, notices.element, composer.element, announcer.element);
    void attachments.uploadLimit(); // known before the first file is picked
  };

  const unreadStore = new UnreadStore();
  unreadStore.onCounts = refresh;

  /** Listens to what changes the page. */
  const listen = () => {
    for (const event of [
      RoomEvent.TimelineReset,
      RoomEvent.Redaction,
      RoomEvent.RedactionCancelled,
      RoomEvent.LocalEchoUpdated,
      RoomEvent.Receipt,
      RoomEvent.MyMembership,
      RoomEvent.Name,
      RoomStateEvent.Members,
      RoomMemberEvent.Name,
      RoomMemberEvent.Typing,
      ClientEvent.DeleteRoom,
    ] as const) {
      client.on(event, refresh);
    }
    client.on(RoomEvent.Timeline, (event, _room, toStart, removed, data) => {
      if (!toStart && !removed && data.liveEvent) parts?.announcer.arrived(event, current);
      refresh();
    });
    const watched = new WeakSet<Room>();
    client.on(ClientEvent.Room, (room) => {
      if (!watched.has(room)) watchRedactions(room);
      watched.add(room);
      refresh();
    });
    client.on(MatrixEventEvent.Decrypted, (event, err) => {
      keyBackup?.onDecrypted(event, err);
      refresh();
    });
    client.on(HttpApiEvent.SessionLoggedOut, () => {
      stop("This chat session has ended: reload the page to sign in again.", "signed_out");
      client.stopClient();
    });
    document.addEventListener("visibilitychange", refresh);
  };

  handle.ready = (async () => {
    const who =
      options.userId && options.deviceId
        ? { userId: options.userId, deviceId: options.deviceId }
        : await alive(whoami(options.homeserverUrl, options.accessToken));
    if (destroyed) throw new ChatDestroyedError();
    element.dataset["deviceId"] = who.deviceId;
    client = createClient({
      baseUrl: options.homeserverUrl,
      accessToken: options.accessToken,
      userId: who.userId,
      deviceId: who.deviceId,
      store: unreadStore,
    });
    handle.client = client;
    keyBackup = new KeyBackup(client, options.keyBackup ?? null, element, refresh);
    build(who.userId);
    listen();

    // One store per user and device: the same device finds its keys again after a reload, and
    // another device of the same user never opens a store that is not its own.
    const crypto = client.initRustCrypto({ cryptoDatabasePrefix: cryptoStorePrefix(who.userId, who.deviceId) });
    // Destroyed while it started: stop it once it runs (the store would stay open otherwise).
    crypto.then(() => destroyed && client.stopClient(), () => undefined);
    try {
      await alive(crypto);
    } catch (e) {
      if (destroyed) throw e;
      // E.g. a store that belongs to another account. Never start this device on a fresh store
      // (its keys would not match what others know of it): the page has to sign in again.
      stop(`Could not start end-to-end encryption: ${errorText(e)}`, "crypto");
      throw e;
    }
    await alive(keyBackup.setUp());

    const prepared = new Promise<void>((resolve) => {
      const onSync = (state: SyncState) => {
        if (state === SyncState.Prepared || state === SyncState.Syncing) {
          client.off(ClientEvent.Sync, onSync);
          resolve();
        }
      };
      client.on(ClientEvent.Sync, onSync);
    });
    await alive(client.startClient({ initialSyncLimit: 30 }));
    await alive(prepared);
    element.dataset["chatReady"] = "true";
    parts?.announcer.arm();
    render();
    // In the background: keys of messages sent before this device existed.
    keyBackup.start();
  })();
  handle.ready.catch((e: unknown) => {
    if (!failed && !destroyed) stop(`Could not start the chat: ${errorText(e)}`, "start");
  });

  return handle;
}
