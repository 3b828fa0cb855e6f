// What the embed's parts share: the client, who is signed in, the room on
// screen, and how to ask for a re-render or tell the person something.

import type { MatrixClient, Room } from "matrix-js-sdk";
import type { Media } from "./media.js";
import type { People } from "./names.js";
import type { NoticeKind } from "./notices.js";

export interface ChatContext {
  readonly client: MatrixClient;
  /** The signed-in Matrix user. */
  readonly me: string;
  readonly people: People;
  readonly media: Media;
  /** The room on screen, once joined (null otherwise). */
  room(): Room | null;
  /**
   * Shows another room. `byPerson`: the person picked it (in the room list, or by accepting an
   * invitation): the host's `onRoomChange` is told, and on a phone-width embed the focus
   * moves to the room's heading (the list it was in is hidden).
   */
  showRoom(roomId: string, how?: { byPerson?: boolean }): void;
  /** Whether a missing room key may still arrive (from the key backup). */
  keyMayArrive(): boolean;
  /** Re-renders soon (coalesced). */
  refresh(): void;
  /** A joined room's unread count as the host is told it (0 for the room on screen). */
  unreadCount(roomId: string): number;
  /** A line for the person above the composer ("… is larger than …"); empty text clears it. */
  notice(text: string, kind?: NoticeKind): void;
}
