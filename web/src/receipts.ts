// Read receipts: this person's receipt goes out for the last event of the
// room on screen (which also brings the room's unread count to 0), and
// "Seen" shows under the last own message the other person of a two-person
// room has read.

import type { MatrixClient, MatrixEvent, Room } from "matrix-js-sdk";
import { onServer, type Message } from "./message.js";
import type { People } from "./names.js";

/**
 * In a room of two people (service accounts aside), the latest own message the other has
 * read (their receipt is on it or later); undefined in larger rooms or when they read none.
 */
export function seenMessageId(room: Room, me: string, messages: Message[], people: People): string | undefined {
  const members = people.people(room);
  if (members.length !== 2 || !members.includes(me)) return undefined;
  const other = members.find((id) => id !== me);
  if (!other) return undefined;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (!m || m.sender !== me || !onServer(m.id)) continue;
    if (room.hasUserReadEvent(other, m.id)) return m.id;
  }
  return undefined;
}

/** Sends this person's read receipt for the last event of a room they are looking at. */
export class ReadMarker {
  private inFlight = new Set<string>();

  constructor(private readonly client: MatrixClient) {}

  markRead(room: Room): void {
    const me = this.client.getUserId();
    if (!me || this.inFlight.has(room.roomId)) return;
    const events = room.getLiveTimeline().getEvents();
    // The last event the server has (not a local echo still being sent).
    let last: MatrixEvent | undefined;
    for (let i = events.length - 1; i >= 0; i--) {
      const event = events[i];
      if (event && !event.status && onServer(event.getId())) {
        last = event;
        break;
      }
    }
    const id = last?.getId();
    if (!last || !id || room.hasUserReadEvent(me, id)) return;
    this.inFlight.add(room.roomId);
    this.client
      .sendReadReceipt(last)
      .catch(() => undefined) // the next render tries again
      .finally(() => this.inFlight.delete(room.roomId));
  }
}
