// What `mountChat` takes and gives back: its options, the handle of a
// mounted chat, and the error `ready` rejects with after `destroy()`.

import type { MatrixClient } from "matrix-js-sdk";
import type { KeyBackupKey } from "./session.js";
import type { UnreadCounts } from "./unread.js";

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
  /**
   * Called whenever the unread counts change (and once after the first sync): the total over
   * all joined rooms, and each joined room's count by room id (0 included).
   */
  onUnread?: (total: number, rooms: Record<string, number>) => void;
  /**
   * Called when the person opened another room themselves (picked it in the room list, or
   * accepted an invitation); not for the host's own `showRoom()` calls.
   */
  onRoomChange?: (roomId: string) => void;
  /**
   * Matrix users that are services, not people (a bot): not counted as members (for "Seen",
   * which shows only between two people) nor named in room titles. The managing account of
   * rooms matrix-sync made is recognised without this.
   */
  serviceUsers?: string[];
  /** Add the embed's stylesheet to the page (once). Default true; false when the host imports `style.css`. */
  injectStyles?: boolean;
}

export interface ChatHandle {
  /** The Matrix client, as soon as the session is known (right after `whoami`, before `ready`). */
  client?: MatrixClient;
  /**
   * Resolves once the first sync is done and the crypto is ready; rejects if the chat cannot
   * start (the reason is shown in the embed), or with a `ChatDestroyedError` when `destroy()`
   * came first.
   */
  ready: Promise<void>;
  /** The latest unread counts (what `onUnread` was last given). */
  readonly unread: UnreadCounts;
  /** Shows a room (`onRoomChange` is not called: the host knows). */
  showRoom(roomId: string): void;
  /**
   * Empties the element at once and stops the client (and its crypto store) after telling
   * the room this person stopped typing (waited for at most half a second). Resolves once
   * the client is stopped: a new chat of the same device must wait for it.
   */
  destroy(): Promise<void>;
}

/** `ready` rejects with this when `destroy()` is called before the chat is ready. */
export class ChatDestroyedError extends Error {
  constructor() {
    super("the chat was destroyed before it was ready");
    this.name = "ChatDestroyedError";
  }
}
