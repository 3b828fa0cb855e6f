// The timeline of the room on screen: messages with a separator between days,
// scrollback (older messages load as the person scrolls up, to the start of
// the room), and a scroll position that stays put: at the bottom while the
// person is there, on the message they were reading otherwise.

import { MatrixEventEvent, type MatrixEvent, type Room } from "matrix-js-sdk";
import type { ChatContext } from "./context.js";
import { el, errorText, KeyedList, uniqueId, type Row } from "./dom.js";
import { canEdit, describe, onServer, summary, type Message } from "./message.js";
import { renderMessage, type MessageHandlers, type MessageView } from "./message-view.js";
import { seenMessageId } from "./receipts.js";

/** How close to the top (px) older messages start loading. */
const PAGINATE_MARGIN = 400;
/** How close to the bottom (px) counts as "at the bottom". */
const BOTTOM_MARGIN = 48;
/** Messages of one person closer than this run together (one avatar and name). */
const RUN_MS = 5 * 60_000;

export interface MessageActions {
  reply(message: Message): void;
  edit(message: Message): void;
}

const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });

/** The local date, YYYY-MM-DD. */
function dayKey(ts: number): string {
  const d = new Date(ts);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
}

export class Timeline {
  readonly element: HTMLOListElement;
  private rows: KeyedList<unknown>;
  private roomId: string | undefined;
  private pinned = true;
  private paginating = false;
  private confirming: string | undefined;
  /** The message whose actions are open by their "⋯" button (touch screens). */
  private menuFor: string | undefined;
  private highlighted: string | undefined;
  private messages = new Map<string, Message>();
  /** Events answered by replies but not in the timeline: fetched once. */
  private fetched = new Map<string, MatrixEvent | "loading" | "missing">();
  private watched = new WeakSet<MatrixEvent>();

  constructor(
    private readonly ctx: ChatContext,
    private readonly actions: MessageActions,
  ) {
    // A plain list, not a live region: rows are rebuilt when what they show changes, which a
    // live region would read out again; new messages are announced by announcer.ts.
    this.element = el("ol", "ms-timeline");
    this.element.id = uniqueId("timeline");
    this.element.tabIndex = 0; // scrollable by keyboard, and where the focus goes after a deletion
    this.rows = new KeyedList(this.element);
    // The pane around it changes (a notice, the reply bar, a narrower window): stay at the bottom.
    new ResizeObserver(() => {
      if (this.pinned) this.element.scrollTop = this.element.scrollHeight;
    }).observe(this.element);
    this.element.addEventListener("scroll", () => {
      const e = this.element;
      this.pinned = e.scrollHeight - e.scrollTop - e.clientHeight < BOTTOM_MARGIN;
      // Only when the person scrolled up (at the bottom of a short list, render() fills it).
      if (!this.pinned && e.scrollTop < PAGINATE_MARGIN) this.paginate();
    });
  }

  /** Loads older messages of the room on screen, unless already at its start or loading. */
  paginate(): void {
    const room = this.ctx.room();
    if (!room || this.paginating || room.oldState.paginationToken === null) return;
    this.paginating = true;
    this.ctx.refresh();
    this.ctx.client.scrollback(room, 50).then(
      () => {
        this.paginating = false;
        this.ctx.refresh();
      },
      (e: unknown) => {
        // The SDK waits a little before the next try; a later scroll tries again.
        this.paginating = false;
        this.ctx.notice(`Could not load earlier messages: ${errorText(e)}`, "error");
      },
    );
  }

  private focus(key: string): void {
    this.element.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(key)}"]`)?.focus();
  }

  private handlers(): MessageHandlers {
    const find = (id: string) => this.messages.get(id);
    return {
      reply: (id) => {
        const m = find(id);
        this.closeMenu();
        if (m) this.actions.reply(m);
      },
      edit: (id) => {
        const m = find(id);
        this.closeMenu();
        if (m) this.actions.edit(m);
      },
      askDelete: (id) => {
        const asked = this.confirming;
        this.confirming = id;
        this.menuFor = undefined;
        this.render(this.ctx.room());
        // To the confirmation, or back to the Delete button it came from.
        if (id) this.focus(`confirm:${id}`);
        else if (asked) this.focus(`delete:${asked}`);
      },
      remove: (id) => {
        this.confirming = undefined;
        const room = this.ctx.room();
        if (!room) return;
        this.ctx.client.redactEvent(room.roomId, id).catch((e: unknown) => {
          this.ctx.notice(`Could not delete the message: ${errorText(e)}`, "error");
        });
        this.render(room);
        // The row's buttons are gone: the timeline keeps the keyboard's place.
        this.element.focus({ preventScroll: true });
      },
      retry: (id) => {
        const m = find(id);
        const room = this.ctx.room();
        if (m && room) this.ctx.client.resendEvent(m.event, room).catch(() => undefined);
      },
      cancelSend: (id) => {
        const m = find(id);
        if (!m) return;
        try {
          this.ctx.client.cancelPendingEvent(m.event);
        } catch (e) {
          this.ctx.notice(`Could not cancel the message: ${errorText(e)}`, "error");
        }
        this.ctx.refresh();
        this.element.focus({ preventScroll: true });
      },
      toggleMenu: (id) => {
        this.menuFor = this.menuFor === id ? undefined : id;
        this.render(this.ctx.room());
        this.focus(`more:${id}`);
      },
      jumpTo: (id) => {
        const node = this.element.querySelector<HTMLElement>(`.ms-message[data-event-id="${CSS.escape(id)}"]`);
        if (!node) return;
        this.highlighted = id;
        this.render(this.ctx.room());
        this.element.querySelector<HTMLElement>(`.ms-message[data-event-id="${CSS.escape(id)}"]`)?.scrollIntoView({
          block: "center",
        });
      },
      loaded: () => {
        if (this.pinned) this.element.scrollTop = this.element.scrollHeight;
      },
    };
  }

  private closeMenu(): void {
    if (this.menuFor === undefined) return;
    this.menuFor = undefined;
    this.ctx.refresh();
  }

  /** The message a reply points at: in the timeline, or fetched from the homeserver once. */
  private quoted(room: Room, id: string): Message | null | "loading" {
    const inRoom = room.findEventById(id);
    if (inRoom) return describe(inRoom, this.ctx.keyMayArrive());
    const known = this.fetched.get(id);
    if (known === "loading") return "loading";
    if (known === "missing") return null;
    if (known) return describe(known, this.ctx.keyMayArrive());
    this.fetched.set(id, "loading");
    this.ctx.client
      .fetchRoomEvent(room.roomId, id)
      .then((raw) => {
        // Mapped (and decrypted in the background: MatrixEventEvent.Decrypted re-renders).
        this.fetched.set(id, this.ctx.client.getEventMapper()(raw));
      })
      .catch(() => this.fetched.set(id, "missing"))
      .finally(() => this.ctx.refresh());
    return "loading";
  }

  /** An edit of a shown message arrived (the SDK sets it on the message): show it. */
  private watch(event: MatrixEvent): void {
    if (this.watched.has(event)) return;
    this.watched.add(event);
    event.on(MatrixEventEvent.Replaced, () => this.ctx.refresh());
  }

  render(room: Room | null): void {
    const list = this.element;
    if (room?.roomId !== this.roomId) {
      this.roomId = room?.roomId;
      this.rows.clear();
      this.pinned = true;
      this.confirming = undefined;
      this.menuFor = undefined;
      this.highlighted = undefined;
    }
    if (!room) return;

    // The first row visible now, to keep it in place when rows are added above it.
    let anchor: { key: unknown; offset: number } | undefined;
    if (!this.pinned) {
      for (const child of Array.from(list.children) as HTMLElement[]) {
        if (child.offsetTop + child.offsetHeight > list.scrollTop) {
          const key = this.rows.keyOf(child);
          if (key !== undefined) anchor = { key, offset: child.offsetTop - list.scrollTop };
          break;
        }
      }
    }

    const me = this.ctx.me;
    const mayArrive = this.ctx.keyMayArrive();
    const messages: Message[] = [];
    let decrypting = 0;
    for (const event of room.getLiveTimeline().getEvents()) {
      const message = describe(event, mayArrive);
      if (!message) {
        if (event.isEncrypted() && event.getType() === "m.room.encrypted" && !event.isDecryptionFailure()) decrypting++;
        continue;
      }
      this.watch(event);
      messages.push(message);
    }
    this.messages = new Map(messages.map((m) => [m.id, m]));
    const seen = seenMessageId(room, me, messages, this.ctx.people);

    const rows: Row<unknown>[] = [];
    const atStart = room.oldState.paginationToken === null;
    const note = atStart ? "This is the start of the conversation." : this.paginating ? "Loading earlier messages…" : "";
    rows.push({
      key: "history",
      sig: note,
      create: () => {
        const item = el("li", "ms-history-note", note);
        item.setAttribute("aria-hidden", note ? "false" : "true");
        return item;
      },
    });
    let previous: Message | undefined;
    for (const message of messages) {
      const day = dayKey(message.ts);
      const newDay = !previous || dayKey(previous.ts) !== day;
      if (newDay) {
        // Keyed by the day's first message, not the day: timestamps out of order can bring
        // the same day twice, and a key twice would drop the second separator.
        const label = dayFormat.format(message.ts);
        rows.push({
          key: `day:${message.id}`,
          sig: label,
          create: () => {
            // A heading (screen readers list them, so the days can be jumped between); the
            // lines beside it are CSS.
            const item = el("li", "ms-day");
            item.dataset["day"] = day;
            const heading = el("h3", "ms-day-label");
            const time = el("time", undefined, label);
            time.dateTime = day;
            heading.append(time);
            item.append(heading);
            return item;
          },
        });
      }
      const view = this.view(room, message, previous, newDay, seen === message.id);
      rows.push({
        key: message.event,
        sig: JSON.stringify(view),
        create: () => renderMessage(this.ctx, room, view, this.handlers()),
      });
      previous = message;
    }
    this.rows.update(rows);

    if (this.pinned) {
      list.scrollTop = list.scrollHeight;
    } else if (anchor) {
      const node = this.rows.nodeOf(anchor.key);
      if (node) list.scrollTop = node.offsetTop - anchor.offset;
    }
    // Too few messages to scroll, or still near the top after a page came in: the next page.
    // Not while messages are being decrypted (they are not rows yet, so the list looks short),
    // nor while the timeline is not displayed (it has no height then).
    const displayed = list.clientHeight > 0;
    const fills = list.scrollHeight > list.clientHeight + BOTTOM_MARGIN;
    const nearTop = !this.pinned && list.scrollTop < PAGINATE_MARGIN;
    if (!atStart && !this.paginating && displayed && decrypting === 0 && (!fills || nearTop)) {
      queueMicrotask(() => this.paginate());
    }
  }

  private view(room: Room, message: Message, previous: Message | undefined, newDay: boolean, seen: boolean): MessageView {
    const me = this.ctx.me;
    const own = message.sender === me;
    const sent = onServer(message.id) && !message.pending;
    const live = message.body.kind !== "deleted";
    let quote: MessageView["quote"];
    if (message.replyTo) {
      const target = this.quoted(room, message.replyTo);
      const text = target === "loading" ? "…" : summary(target);
      const sender = target && target !== "loading" ? this.ctx.people.name(room, target.sender) : "";
      quote = { id: message.replyTo, sender, text };
    }
    const continuation =
      !newDay &&
      previous !== undefined &&
      previous.sender === message.sender &&
      message.ts - previous.ts < RUN_MS &&
      !message.replyTo;
    return {
      id: message.id,
      sender: message.sender,
      senderName: this.ctx.people.name(room, message.sender),
      sharedName: this.ctx.people.sharesName(room, message.sender),
      avatar: this.ctx.people.avatarMxc(room, message.sender),
      ts: message.ts,
      encrypted: message.event.isEncrypted(),
      body: message.body,
      edited: message.edited,
      pending: message.pending,
      failed: message.failed,
      own,
      continuation,
      seen,
      quote,
      canReply: sent && live && message.body.kind !== "undecryptable",
      canEdit: sent && canEdit(message, me),
      canDelete: sent && own && live,
      confirmingDelete: this.confirming === message.id,
      menuOpen: this.menuFor === message.id,
      highlighted: this.highlighted === message.id,
    };
  }
}
