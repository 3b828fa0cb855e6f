// The embed's frame: the room list beside the room (its heading with the
// back button, and below it the timeline, typing line, notices and
// composer, which mount-chat.ts adds). At phone width (a container query in
// chat.css) the list and the room are two views, `data-view` on the layout.

import { button, el, uniqueId } from "./dom.js";

export class ChatPage {
  readonly root: HTMLElement;
  readonly sidebar: HTMLElement;
  readonly pane: HTMLElement;
  /** The room's name; focused (tabindex -1) when a room picked at phone width replaces the list. */
  readonly title: HTMLHeadingElement;
  readonly typingLine: HTMLElement;
  private readonly layout: HTMLElement;

  constructor(hasList: boolean, showList: boolean) {
    this.root = el("div", "ms-chat");
    this.layout = el("div", "ms-layout");
    this.layout.dataset["hasList"] = String(hasList);
    this.sidebar = el("nav", "ms-sidebar");
    this.sidebar.setAttribute("aria-label", "Conversations");
    this.pane = el("section", "ms-room");
    const header = el("div", "ms-room-header");
    this.title = el("h2", "ms-room-name", "Loading chat…");
    this.title.id = uniqueId("room-name");
    this.title.tabIndex = -1;
    this.pane.setAttribute("aria-labelledby", this.title.id);
    const back = button("ms-back", "‹", () => {
      this.showView("list");
      // Back where the person was: the room they left, in the list.
      (this.sidebar.querySelector<HTMLElement>(".ms-current .ms-room-button") ?? this.sidebar.querySelector<HTMLElement>("button"))?.focus();
    }, { label: "Back to the conversations" });
    header.append(back, this.title);
    this.typingLine = el("div", "ms-typing");
    this.typingLine.setAttribute("aria-live", "polite");
    this.pane.append(header);
    if (hasList) this.layout.append(this.sidebar);
    this.layout.append(this.pane);
    this.root.append(this.layout);
    this.showView(showList ? "list" : "room");
  }

  showView(view: "list" | "room"): void {
    this.layout.dataset["view"] = view;
  }

  /** Whether the room list is out of sight (phone width with the room shown, or no list at all). */
  listHidden(): boolean {
    return this.sidebar.getClientRects().length === 0;
  }

  /** Whether the person can see the room: page visible, embed displayed, room view on screen. */
  roomOnScreen(): boolean {
    return document.visibilityState === "visible" && this.pane.getClientRects().length > 0;
  }
}
