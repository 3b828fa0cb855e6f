// The line above the composer that tells the person something ("Sending
// photo.jpg… 40%", "… is larger than the 50 MB this server accepts."). Two
// live regions that are always in the page, one polite (`status`) for
// progress and information, one assertive (`alert`) for errors: a region
// whose role changes is not reliably read out, and one that appears with its
// text already in it is not read out at all.

import { el } from "./dom.js";

export type NoticeKind = "info" | "error";

export class Notices {
  readonly element: HTMLElement;
  private readonly status: HTMLElement;
  private readonly alert: HTMLElement;

  constructor() {
    this.element = el("div", "ms-notices");
    this.status = el("div", "ms-notice");
    this.status.setAttribute("role", "status");
    this.status.dataset["kind"] = "info";
    this.alert = el("div", "ms-notice");
    this.alert.setAttribute("role", "alert");
    this.alert.dataset["kind"] = "error";
    this.element.append(this.status, this.alert);
  }

  /** Shows a notice in its region and clears the other; empty text clears both. */
  show(text: string, kind: NoticeKind = "info"): void {
    const [target, other] = kind === "error" ? [this.alert, this.status] : [this.status, this.alert];
    other.textContent = "";
    if (target.textContent !== text) target.textContent = text;
  }
}
