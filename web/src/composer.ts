// The composer: a labelled text area (Enter sends, Shift+Enter is a new
// line, Escape cancels a reply or an edit), the attach button, and the bar
// that says what the next message answers or edits. A draft is kept per room.

import { MsgType, RelationType } from "matrix-js-sdk";
import type { RoomMessageEventContent } from "matrix-js-sdk/lib/types.js";
import type { Attachments } from "./attachments.js";
import type { ChatContext } from "./context.js";
import { button, el, errorText, uniqueId } from "./dom.js";
import { summary, type Message } from "./message.js";
import type { TypingNotifier } from "./typing.js";

type Mode = { kind: "reply" | "edit"; message: Message };

export class Composer {
  readonly element: HTMLElement;
  readonly input: HTMLTextAreaElement;
  private readonly form: HTMLFormElement;
  private readonly context: HTMLElement;
  private readonly contextText: HTMLElement;
  private readonly cancelButton: HTMLButtonElement;
  private readonly sendButton: HTMLButtonElement;
  private mode: Mode | undefined;
  private roomId: string | undefined;
  private drafts = new Map<string, string>();
  /** The draft put aside while editing, given back when the edit ends. */
  private beforeEdit = "";

  constructor(
    private readonly ctx: ChatContext,
    private readonly attachments: Attachments,
    private readonly typing: TypingNotifier,
  ) {
    this.element = el("div", "ms-composer-area");
    this.context = el("div", "ms-context");
    this.context.hidden = true;
    this.contextText = el("span", "ms-context-text");
    this.cancelButton = button("ms-action ms-cancel", "Cancel", () => this.cancel());
    this.context.append(this.contextText, this.cancelButton);

    this.form = el("form", "ms-composer");
    const id = uniqueId("input");
    const label = el("label", "ms-visually-hidden", "Message");
    label.htmlFor = id;
    this.input = el("textarea", "ms-input");
    this.input.id = id;
    this.input.rows = 1;
    this.input.placeholder = "Write a message";
    this.input.setAttribute("aria-label", "Message");
    this.input.setAttribute("aria-keyshortcuts", "Enter Escape");
    this.sendButton = el("button", "ms-send", "Send");
    this.sendButton.type = "submit";
    this.form.append(attachments.button, attachments.input, label, this.input, this.sendButton);
    this.element.append(this.context, this.form);

    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.form.requestSubmit();
      } else if (e.key === "Escape" && this.mode) {
        e.preventDefault();
        this.cancel();
      }
    });
    this.input.addEventListener("input", () => {
      this.fit();
      if (this.roomId && this.mode?.kind !== "edit") this.typing.typed(this.roomId, this.input.value.trim() !== "");
    });
    // Someone who left the composer is not typing, whatever is in it.
    this.input.addEventListener("blur", () => void this.typing.stop());
  }

  /** Keeps the composer from being used (the chat stopped: signed out, or a fatal error). */
  setDisabled(disabled: boolean): void {
    this.input.disabled = disabled;
    this.sendButton.disabled = disabled;
    this.attachments.setDisabled(disabled);
    if (disabled) void this.typing.stop();
  }

  /** The room on screen changed (undefined: none): its draft comes back, a reply or edit ends. */
  setRoom(roomId: string | undefined): void {
    if (roomId === this.roomId) return;
    if (this.roomId) this.drafts.set(this.roomId, this.mode?.kind === "edit" ? this.beforeEdit : this.input.value);
    void this.typing.stop();
    this.mode = undefined;
    this.roomId = roomId;
    this.input.value = (roomId && this.drafts.get(roomId)) || "";
    this.showMode();
    this.fit();
    this.element.hidden = roomId === undefined;
  }

  startReply(message: Message): void {
    if (this.mode?.kind === "edit") this.input.value = this.beforeEdit;
    this.mode = { kind: "reply", message };
    this.showMode();
    this.input.focus();
  }

  startEdit(message: Message): void {
    if (message.body.kind !== "text") return;
    if (this.mode?.kind !== "edit") this.beforeEdit = this.input.value;
    this.mode = { kind: "edit", message };
    this.input.value = message.body.text;
    this.showMode();
    this.fit();
    this.input.focus();
    this.input.setSelectionRange(this.input.value.length, this.input.value.length);
  }

  cancel(): void {
    if (this.mode?.kind === "edit") this.input.value = this.beforeEdit;
    this.mode = undefined;
    this.showMode();
    this.fit();
    this.input.focus();
  }

  private showMode(): void {
    const mode = this.mode;
    this.context.hidden = !mode;
    this.context.dataset["mode"] = mode?.kind ?? "";
    if (!mode) return;
    const room = this.ctx.room();
    if (mode.kind === "reply") {
      const name = this.ctx.people.name(room, mode.message.sender);
      this.contextText.textContent = `Replying to ${name}: ${summary(mode.message)}`;
      this.cancelButton.setAttribute("aria-label", "Cancel the reply");
    } else {
      this.contextText.textContent = "Editing your message";
      this.cancelButton.setAttribute("aria-label", "Cancel editing");
    }
  }

  /** Grows with its text, up to the CSS max-height. */
  private fit(): void {
    this.input.style.height = "auto";
    if (this.input.value) this.input.style.height = `${this.input.scrollHeight + 2}px`;
  }

  private submit(): void {
    const text = this.input.value.trim();
    const roomId = this.roomId;
    if (!text || !roomId || !this.ctx.room() || this.input.disabled) return;
    const mode = this.mode;
    let content: RoomMessageEventContent;
    if (mode?.kind === "edit") {
      if (mode.message.body.kind === "text" && mode.message.body.text === text) {
        this.cancel();
        return;
      }
      content = {
        "msgtype": MsgType.Text,
        "body": `* ${text}`,
        "m.new_content": { msgtype: MsgType.Text, body: text },
        "m.relates_to": { rel_type: RelationType.Replace, event_id: mode.message.id },
      };
    } else if (mode?.kind === "reply") {
      content = { "msgtype": MsgType.Text, "body": text, "m.relates_to": { "m.in_reply_to": { event_id: mode.message.id } } };
    } else {
      content = { msgtype: MsgType.Text, body: text };
    }
    this.input.value = mode?.kind === "edit" ? this.beforeEdit : "";
    this.mode = undefined;
    this.showMode();
    this.fit();
    void this.typing.stop();
    this.ctx.notice("");
    this.ctx.client.sendMessage(roomId, content).catch((e: unknown) => {
      this.ctx.notice(`Could not send: ${errorText(e)}`, "error");
    });
  }
}
