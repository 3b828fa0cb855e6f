// The framework-free chat embed: a Matrix client with end-to-end encryption
// (matrix-js-sdk's Rust crypto, WASM) and a small UI of our own: a room list
// with unread counts, a timeline and a composer.

import {
  ClientEvent,
  createClient,
  MatrixEvent,
  MatrixEventEvent,
  MsgType,
  RoomEvent,
  SyncState,
  type MatrixClient,
  type Room,
} from "matrix-js-sdk";

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
}

export interface ChatHandle {
  /** The Matrix client, once the session is known (after `ready`). */
  client?: MatrixClient;
  /** Resolves once the first sync is done and the crypto is ready. */
  ready: Promise<void>;
  showRoom(roomId: string): void;
  destroy(): void;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function describe(event: MatrixEvent): string | null {
  if (event.getType() === "m.room.encrypted" || event.isDecryptionFailure()) {
    // A message sent before this device existed has no key for it.
    return event.isDecryptionFailure() ? "[encrypted message this device cannot read]" : null;
  }
  if (event.getType() !== "m.room.message") return null;
  const body = event.getContent()["body"];
  return typeof body === "string" ? body : null;
}

/** Who an access token belongs to (`/account/whoami`). */
async function whoami(homeserverUrl: string, accessToken: string): Promise<{ userId: string; deviceId: string }> {
  const response = await fetch(`${homeserverUrl.replace(/\/$/, "")}/_matrix/client/v3/account/whoami`, {
    headers: { Authorization: `Bearer ${accessToken}` },
  });
  if (!response.ok) throw new Error(`the homeserver does not accept this token (${response.status})`);
  const body = await response.json();
  return { userId: body.user_id, deviceId: body.device_id };
}

export function mountChat(element: HTMLElement, options: ChatOptions): ChatHandle {
  // Filled in once the session is known; the UI below only reads it then.
  let client!: MatrixClient;

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

  let current: string | undefined = options.roomId;

  const roomName = (room: Room) => room.name || room.roomId;

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
    const room = current ? client.getRoom(current) : null;
    if (!room) {
      title.textContent = current ? "Joining…" : "Pick a room";
      timeline.replaceChildren();
      return;
    }
    title.textContent = roomName(room);
    const items = room
      .getLiveTimeline()
      .getEvents()
      .map((event) => {
        const text = describe(event);
        if (text === null) return null;
        const sender = room.getMember(event.getSender() ?? "")?.name ?? event.getSender() ?? "";
        const item = el("li", "ms-message");
        item.dataset["eventId"] = event.getId() ?? "";
        item.dataset["encrypted"] = String(event.isEncrypted());
        item.append(el("span", "ms-sender", sender), el("span", "ms-body", text));
        return item;
      })
      .filter((item): item is HTMLLIElement => item !== null);
    timeline.replaceChildren(...items);
    timeline.scrollTop = timeline.scrollHeight;
    // Receipts only for events the server has (not local echoes).
    const last = room.getLiveTimeline().getEvents().at(-1);
    if (last && !last.status && last.getId()?.startsWith("$")) void client.sendReadReceipt(last).catch(() => undefined);
  };

  const rerender = () => {
    if (!handle.client) return; // not signed in yet
    renderList();
    renderRoom();
  };

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || !current) return;
    input.value = "";
    void client.sendMessage(current, { msgtype: MsgType.Text, body: text }).catch((err: unknown) => {
      title.textContent = `Could not send: ${String(err)}`;
    });
  });

  const handle: ChatHandle = {
    ready: Promise.resolve(),
    showRoom(roomId: string) {
      current = roomId;
      rerender();
    },
    destroy() {
      handle.client?.stopClient();
      handle.client?.removeAllListeners();
      element.replaceChildren();
    },
  };
  handle.ready = (async () => {
    const who =
      options.userId && options.deviceId
        ? { userId: options.userId, deviceId: options.deviceId }
        : await whoami(options.homeserverUrl, options.accessToken);
    client = createClient({
      baseUrl: options.homeserverUrl,
      accessToken: options.accessToken,
      userId: who.userId,
      deviceId: who.deviceId,
    });
    handle.client = client;
    client.on(RoomEvent.Timeline, rerender);
    client.on(RoomEvent.Receipt, renderList);
    client.on(MatrixEventEvent.Decrypted, rerender);
    client.on(ClientEvent.Room, rerender);
    await client.initRustCrypto();
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
    element.dataset["chatReady"] = "true";
    rerender();
  })();

  return handle;
}
