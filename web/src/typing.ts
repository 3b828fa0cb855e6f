// Typing notifications: "Bob is typing…" for others, and this person's own
// start and stop (few requests: renewed while they type, stopped when they
// clear the composer, leave it, switch rooms or close the chat).

import { KnownMembership, type MatrixClient, type Room } from "matrix-js-sdk";
import { joinNames, type People } from "./names.js";

/** Who else is typing in the room, as a sentence ("" when nobody is). */
export function typingText(room: Room, me: string, people: People): string {
  const names = room
    .getMembers()
    .filter((m) => m.typing && m.userId !== me && m.membership === KnownMembership.Join)
    .map((m) => people.name(room, m.userId));
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length <= 3) return `${joinNames(names)} are typing…`;
  return "Several people are typing…";
}

/** How long a "typing" lasts on the server; renewed while the person keeps typing. */
const TYPING_TIMEOUT_MS = 20_000;
/** No key pressed for this long: no longer typing. */
const TYPING_IDLE_MS = 6_000;

/** Tells the room when this person starts and stops typing. */
export class TypingNotifier {
  private roomId: string | undefined;
  private sentAt = 0;
  private idle: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly client: MatrixClient) {}

  /** The composer changed: `hasText` whether anything is written. */
  typed(roomId: string, hasText: boolean): void {
    if (!hasText) {
      void this.stop();
      return;
    }
    if (this.roomId && this.roomId !== roomId) void this.stop();
    const now = Date.now();
    if (this.roomId !== roomId || now - this.sentAt > TYPING_TIMEOUT_MS / 2) {
      this.roomId = roomId;
      this.sentAt = now;
      this.client.sendTyping(roomId, true, TYPING_TIMEOUT_MS).catch(() => undefined);
    }
    if (this.idle !== undefined) clearTimeout(this.idle);
    this.idle = setTimeout(() => void this.stop(), TYPING_IDLE_MS);
  }

  /** Tells the room this person stopped (if they were typing); resolves once the server has it or it failed. */
  stop(): Promise<void> {
    if (this.idle !== undefined) clearTimeout(this.idle);
    this.idle = undefined;
    const roomId = this.roomId;
    this.roomId = undefined;
    this.sentAt = 0;
    if (!roomId) return Promise.resolve();
    return this.client.sendTyping(roomId, false, 0).then(
      () => undefined,
      () => undefined,
    );
  }
}
