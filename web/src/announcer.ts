// Tells screen readers about new messages from others in the room on screen,
// "Bob Chen: See you at six", through a visually hidden polite live region.
// The timeline itself is not a live region: its rows are rebuilt when what
// they show changes (Seen moving, a decryption, an edit, a page of history),
// and a live timeline would read all of those out again.

import type { MatrixEvent, Room } from "matrix-js-sdk";
import { el } from "./dom.js";
import { describe, summary } from "./message.js";
import type { People } from "./names.js";

/** More arrive at once (back online): one line says how many instead. */
const MAX_LINES = 3;
/** Lines kept in the region (each new one is added, so the same text twice is read twice). */
const KEPT_LINES = 5;
/** A message still waiting to be decrypted this long is not announced any more. */
const WAIT_MS = 30_000;

export class Announcer {
  readonly element: HTMLElement;
  /** New messages of others in the room on screen, with when they arrived. */
  private pending = new Map<MatrixEvent, number>();
  private armed = false;

  constructor(
    private readonly me: string,
    private readonly people: People,
  ) {
    this.element = el("div", "ms-visually-hidden ms-announcer");
    this.element.setAttribute("aria-live", "polite");
    this.element.setAttribute("aria-relevant", "additions");
  }

  /** From the first sync on: what the first sync brings is history, not news. */
  arm(): void {
    this.armed = true;
  }

  /** An event came in live (`RoomEvent.Timeline` with `liveEvent`) in `shownRoomId`'s room or another. */
  arrived(event: MatrixEvent, shownRoomId: string | undefined): void {
    if (!this.armed || event.getRoomId() !== shownRoomId || event.getSender() === this.me) return;
    this.pending.set(event, Date.now());
  }

  /** After a render: announces what became readable; `room` is on screen (null: nothing is). */
  flush(room: Room | null, keyMayArrive: boolean): void {
    if (!room) {
      this.pending.clear();
      return;
    }
    const lines: string[] = [];
    for (const [event, since] of this.pending) {
      if (event.getRoomId() !== room.roomId) {
        this.pending.delete(event);
        continue;
      }
      const message = describe(event, keyMayArrive);
      const decrypting = event.getType() === "m.room.encrypted" && !event.isDecryptionFailure() && !event.isRedacted();
      const waiting = message?.body.kind === "undecryptable" && message.body.waiting;
      if ((decrypting || waiting) && Date.now() - since < WAIT_MS) continue; // its text comes later
      this.pending.delete(event);
      // Edits, reactions and deletions are no news (describe gives no message for them).
      if (message) lines.push(`${this.people.name(room, message.sender)}: ${summary(message)}`);
    }
    if (lines.length === 0) return;
    this.say(lines.length > MAX_LINES ? `${lines.length} new messages` : lines);
  }

  private say(lines: string | string[]): void {
    for (const line of typeof lines === "string" ? [lines] : lines) this.element.append(el("p", undefined, line));
    while (this.element.childElementCount > KEPT_LINES) this.element.firstElementChild?.remove();
  }
}
