// One message of the timeline as DOM: avatar, name, time, the quote of the
// message it answers, its text, picture or file, "(edited)", "Seen", and the
// buttons to reply, edit and delete (in the tab order; shown on hover or
// focus, and on touch screens, which have no hover, behind a "⋯" button).
// Everything it shows is in `MessageView`, so the timeline can tell from that
// alone whether a row must be rebuilt.

import type { Room } from "matrix-js-sdk";
import type { ChatContext } from "./context.js";
import { button, el, errorText, formatSize } from "./dom.js";
import { CANNOT_READ_TEXT, DELETED_TEXT, WAITING_TEXT, type Body } from "./message.js";

export interface MessageView {
  id: string;
  sender: string;
  senderName: string;
  /** Another member of the room has the same display name (the name then has a number). */
  sharedName: boolean;
  avatar?: string;
  ts: number;
  encrypted: boolean;
  body: Body;
  edited: boolean;
  pending: boolean;
  failed: boolean;
  own: boolean;
  /** Follows a message of the same person: no avatar or name again. */
  continuation: boolean;
  seen: boolean;
  quote?: { id: string; sender: string; text: string };
  canReply: boolean;
  canEdit: boolean;
  canDelete: boolean;
  confirmingDelete: boolean;
  /** The actions are opened by the "⋯" button (touch screens). */
  menuOpen: boolean;
  highlighted: boolean;
}

export interface MessageHandlers {
  reply(id: string): void;
  edit(id: string): void;
  askDelete(id: string | undefined): void;
  remove(id: string): void;
  retry(id: string): void;
  /** Gives up a message that could not be sent. */
  cancelSend(id: string): void;
  /** Opens or closes a message's actions (the "⋯" button). */
  toggleMenu(id: string): void;
  jumpTo(id: string): void;
  /** A picture finished loading (the timeline may need to stay at its bottom). */
  loaded(): void;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });

/** The size a picture is shown at (its own, at most 320 × 240), known before it loads so nothing jumps. */
function shownSize(w?: number, h?: number): { width: number; height: number } {
  if (!w || !h || w <= 0 || h <= 0) return { width: 240, height: 180 };
  const scale = Math.min(1, 320 / w, 240 / h);
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

function renderBody(ctx: ChatContext, body: Body, handlers: MessageHandlers): HTMLElement {
  const node = el("div", "ms-body");
  switch (body.kind) {
    case "text":
      node.textContent = body.text;
      if (body.emote) node.classList.add("ms-emote");
      break;
    case "deleted":
      node.textContent = DELETED_TEXT;
      break;
    case "undecryptable":
      node.textContent = body.waiting ? WAITING_TEXT : CANNOT_READ_TEXT;
      break;
    case "image": {
      const size = shownSize(body.w, body.h);
      const img = el("img");
      img.alt = body.name;
      img.width = size.width;
      img.height = size.height;
      const frame = el("div", "ms-image");
      frame.style.width = `${size.width}px`;
      frame.append(img);
      node.append(frame);
      img.addEventListener("load", () => handlers.loaded());
      // The server cannot thumbnail an encrypted file: the sender's thumbnail, or the file.
      const thumbnail = "mxc" in body.source ? { width: 640, height: 480, method: "scale" as const } : undefined;
      ctx.media.objectUrl(body.thumb ?? body.source, body.mimetype, body.thumb ? undefined : thumbnail).then(
        (url) => (img.src = url),
        (e: unknown) => frame.replaceWith(el("span", "ms-media-error", `The picture could not be loaded (${errorText(e)}).`)),
      );
      break;
    }
    case "file": {
      const box = el("div", "ms-file");
      box.append(el("span", "ms-file-name", body.name));
      if (body.size !== undefined) box.append(el("span", "ms-file-size", formatSize(body.size)));
      const save = button("ms-button", "Download", () => {
        save.disabled = true;
        ctx.media.blob(body.source, body.mimetype).then(
          (blob) => {
            save.disabled = false;
            const a = el("a");
            a.href = URL.createObjectURL(blob);
            a.download = body.name;
            a.click();
            setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
          },
          (e: unknown) => {
            save.disabled = false;
            ctx.notice(`${body.name} could not be downloaded: ${errorText(e)}`, "error");
          },
        );
      }, { label: `Download ${body.name}` });
      box.append(save);
      node.append(box);
      break;
    }
  }
  return node;
}

export function renderMessage(ctx: ChatContext, room: Room, view: MessageView, handlers: MessageHandlers): HTMLLIElement {
  const classes = ["ms-message"];
  if (view.own) classes.push("ms-own");
  if (view.continuation) classes.push("ms-continuation");
  if (view.body.kind === "undecryptable") classes.push("ms-undecryptable");
  if (view.body.kind === "deleted") classes.push("ms-deleted");
  if (view.pending) classes.push("ms-pending");
  if (view.failed) classes.push("ms-failed");
  if (view.highlighted) classes.push("ms-highlight");
  if (view.menuOpen) classes.push("ms-menu-open");
  const item = el("li", classes.join(" "));
  item.dataset["eventId"] = view.id;
  item.dataset["encrypted"] = String(view.encrypted);
  if (view.body.kind === "undecryptable") {
    item.dataset["undecryptable"] = "true";
    if (view.body.waiting) item.dataset["waitingForKey"] = "true";
  }
  if (view.edited) item.dataset["edited"] = "true";
  if (view.body.kind === "deleted") item.dataset["deleted"] = "true";

  if (view.continuation) item.append(el("span", "ms-gutter"));
  else item.append(ctx.people.avatar(room, view.sender));

  const main = el("div", "ms-main");
  const time = el("time", "ms-time", timeFormat.format(view.ts));
  time.dateTime = new Date(view.ts).toISOString();
  time.title = fullFormat.format(view.ts);
  const meta = el("div", view.continuation ? "ms-meta ms-visually-hidden" : "ms-meta");
  const sender = el("span", "ms-sender", view.senderName);
  if (view.sharedName) {
    // Said in words too: the mark alone would not reach a screen reader.
    sender.dataset["sharedName"] = "true";
    sender.title = "Another member of this room has the same name";
    sender.append(el("span", "ms-visually-hidden", " (another member has the same name)"));
  }
  meta.append(sender, time);
  main.append(meta);

  if (view.quote) {
    const { id, sender, text } = view.quote;
    const quote = button("ms-quote", "", () => handlers.jumpTo(id), { label: `In reply to ${sender}: ${text}` });
    quote.dataset["replyTo"] = id;
    quote.append(el("span", "ms-quote-sender", sender), el("span", "ms-quote-body", text));
    main.append(quote);
  }
  main.append(renderBody(ctx, view.body, handlers));
  if (view.edited) main.append(el("span", "ms-edited", "(edited)"));
  if (view.failed) main.append(el("div", "ms-media-error", "Not sent."));
  if (view.seen) main.append(el("div", "ms-seen", "Seen"));
  item.append(main);

  const actions = el("div", view.confirmingDelete ? "ms-actions ms-confirming" : "ms-actions");
  actions.setAttribute("role", "group");
  actions.setAttribute("aria-label", "Message actions");
  const key = (what: string) => ({ focusKey: `${what}:${view.id}` });
  if (view.confirmingDelete) {
    actions.append(
      el("span", "ms-action", "Delete this message?"),
      button("ms-action ms-button-danger ms-confirm-delete", "Delete", () => handlers.remove(view.id), key("confirm")),
      button("ms-action ms-cancel-delete", "Cancel", () => handlers.askDelete(undefined), key("cancel")),
    );
    actions.addEventListener("keydown", (e) => {
      if (e.key === "Escape") handlers.askDelete(undefined);
    });
  } else {
    if (view.failed) {
      actions.append(
        button("ms-action ms-retry", "Retry", () => handlers.retry(view.id), key("retry")),
        button("ms-action ms-cancel-send", "Cancel", () => handlers.cancelSend(view.id), {
          ...key("cancel-send"),
          label: "Cancel sending",
        }),
      );
    }
    if (view.canReply) actions.append(button("ms-action ms-reply", "Reply", () => handlers.reply(view.id), key("reply")));
    if (view.canEdit) actions.append(button("ms-action ms-edit", "Edit", () => handlers.edit(view.id), key("edit")));
    if (view.canDelete) {
      actions.append(button("ms-action ms-delete", "Delete", () => handlers.askDelete(view.id), key("delete")));
    }
  }
  if (actions.childElementCount > 0) {
    if (!view.confirmingDelete) {
      // Shown only where nothing hovers (CSS `hover: none`): a tap opens the actions.
      const more = button("ms-more", "⋯", () => handlers.toggleMenu(view.id), { label: "Message actions", ...key("more") });
      more.setAttribute("aria-expanded", String(view.menuOpen));
      item.append(more);
      actions.addEventListener("keydown", (e) => {
        if (e.key === "Escape" && view.menuOpen) handlers.toggleMenu(view.id);
      });
    }
    item.append(actions);
  }
  return item;
}
