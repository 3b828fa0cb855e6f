// The room list: invitations first (with Accept and Decline), then the rooms
// the person is in, the most recently active first, each a button with the
// room's unread count (counted in unread.ts). After an invitation is answered
// the keyboard keeps its place: on the room joined, or on the row after the
// one declined.

import { KnownMembership, type Room } from "matrix-js-sdk";
import type { ChatContext } from "./context.js";
import { button, el, errorText, KeyedList, type Row } from "./dom.js";

type Answer = "accept" | "decline";

export class RoomList {
  readonly element: HTMLUListElement;
  private rows: KeyedList<string>;
  /**
   * Invitations being answered, until the sync brings the new membership (the server's answer
   * comes first): their buttons stay disabled meanwhile.
   */
  private answering = new Map<string, Answer>();
  /** Where the focus goes once an answered invitation's row changed: the room's row or the next one. */
  private focusAfter: { roomId: string; target: string | undefined } | undefined;

  constructor(private readonly ctx: ChatContext) {
    this.element = el("ul", "ms-rooms");
    this.element.tabIndex = -1; // the focus lands here when no row is left to take it
    this.rows = new KeyedList(this.element);
  }

  /** Whether the person accepted an invitation to this room that is not joined yet. */
  joining(roomId: string): boolean {
    return this.answering.get(roomId) === "accept";
  }

  render(current: string | undefined): void {
    const rooms = this.ctx.client.getRooms();
    const byActivity = (a: Room, b: Room) => b.getLastActiveTimestamp() - a.getLastActiveTimestamp();
    // Spaces group rooms (a community's, a council's): not conversations.
    const conversations = rooms.filter((r) => !r.isSpaceRoom());
    const invites = conversations.filter((r) => r.getMyMembership() === KnownMembership.Invite).sort(byActivity);
    const joined = conversations.filter((r) => r.getMyMembership() === KnownMembership.Join).sort(byActivity);
    // An answer is over once the room is no longer an invitation.
    for (const roomId of this.answering.keys()) {
      if (!invites.some((r) => r.roomId === roomId)) this.answering.delete(roomId);
    }
    const rows: Row<string>[] = [
      ...invites.map((room) => this.inviteRow(room)),
      ...joined.map((room) => this.roomRow(room, room.roomId === current)),
    ];
    if (rows.length === 0) {
      rows.push({ key: "empty", sig: "", create: () => el("li", "ms-rooms-empty", "No conversations yet.") });
    }
    this.rows.update(rows);
    this.restoreFocus();
  }

  private restoreFocus(): void {
    const pending = this.focusAfter;
    if (!pending || this.answering.has(pending.roomId)) return;
    this.focusAfter = undefined;
    // Only if the person did not move on meanwhile (the focus is in the list, or was lost with a row).
    const active = document.activeElement;
    if (active && active !== document.body && !this.element.contains(active)) return;
    if (this.element.getClientRects().length === 0) return; // the list is hidden (phone width)
    const row = pending.target ? this.rows.nodeOf(pending.target) : undefined;
    (row?.querySelector<HTMLElement>("button:not(:disabled)") ?? this.element).focus();
  }

  private roomRow(room: Room, isCurrent: boolean): Row<string> {
    const title = this.ctx.people.roomTitle(room);
    const unread = this.ctx.unreadCount(room.roomId);
    return {
      key: room.roomId,
      sig: JSON.stringify([title, unread, isCurrent]),
      create: () => {
        const classes = ["ms-room-item"];
        if (isCurrent) classes.push("ms-current");
        if (unread > 0) classes.push("ms-unread-item");
        const item = el("li", classes.join(" "));
        item.dataset["roomId"] = room.roomId;
        const open = button("ms-room-button", "", () => this.ctx.showRoom(room.roomId, { byPerson: true }), {
          label: unread > 0 ? `${title}, ${unread} unread` : title,
          focusKey: `room:${room.roomId}`,
        });
        if (isCurrent) open.setAttribute("aria-current", "true");
        open.append(el("span", "ms-room-title", title));
        if (unread > 0) {
          const badge = el("span", "ms-unread", String(unread));
          badge.setAttribute("aria-hidden", "true");
          open.append(badge);
        }
        item.append(open);
        return item;
      },
    };
  }

  private inviteRow(room: Room): Row<string> {
    const title = this.ctx.people.roomTitle(room);
    const inviter = this.ctx.people.inviter(room);
    const by = inviter ? `${this.ctx.people.name(room, inviter)} invited you` : "You are invited";
    const busy = this.answering.get(room.roomId);
    return {
      key: room.roomId,
      sig: JSON.stringify(["invite", title, by, busy]),
      create: () => {
        const item = el("li", "ms-room-item ms-invite");
        item.dataset["roomId"] = room.roomId;
        item.dataset["invite"] = "true";
        item.append(el("span", "ms-room-title", title), el("span", "ms-invite-by", by));
        const actions = el("div", "ms-invite-actions");
        const accept = button("ms-button ms-button-primary ms-accept", busy === "accept" ? "Joining…" : "Accept", () => this.accept(room), {
          label: `Accept the invitation to ${title}`,
          focusKey: `accept:${room.roomId}`,
        });
        const decline = button("ms-button ms-decline", "Decline", () => this.decline(room), {
          label: `Decline the invitation to ${title}`,
          focusKey: `decline:${room.roomId}`,
        });
        accept.disabled = busy !== undefined;
        decline.disabled = busy !== undefined;
        actions.append(accept, decline);
        item.append(actions);
        return item;
      },
    };
  }

  private answer(room: Room, what: Answer, action: () => Promise<unknown>, then: () => void): void {
    if (this.answering.has(room.roomId)) return;
    this.answering.set(room.roomId, what);
    this.ctx.refresh();
    action().then(then, (e: unknown) => {
      this.answering.delete(room.roomId);
      this.focusAfter = undefined;
      this.ctx.notice(`Could not ${what} the invitation: ${errorText(e)}`, "error");
      this.ctx.refresh();
    });
  }

  private accept(room: Room): void {
    // The joined room's own row takes the focus (on a phone-width embed, its heading: showRoom).
    this.focusAfter = { roomId: room.roomId, target: room.roomId };
    this.answer(room, "accept", () => this.ctx.client.joinRoom(room.roomId), () => {
      this.ctx.showRoom(room.roomId, { byPerson: true });
    });
  }

  private decline(room: Room): void {
    // The row after it takes the focus (the one before when it was the last; else the list).
    const item = this.rows.nodeOf(room.roomId);
    const next = (item?.nextElementSibling ?? item?.previousElementSibling) as HTMLElement | null | undefined;
    this.focusAfter = { roomId: room.roomId, target: next?.dataset["roomId"] };
    this.answer(room, "decline", () => this.ctx.client.leave(room.roomId), () => this.ctx.refresh());
  }
}
