// The embed's stylesheet, injected once per document or shadow root so the
// embed looks right without the host page importing a CSS file (hosts that
// prefer to ship it themselves pass `injectStyles: false` and import
// `@matrix-sync/chat/style.css`).

import css from "./chat.css?inline";

export const chatStyles: string = css;

const MARK = "data-matrix-sync-chat";

/** Adds the stylesheet to the document (or shadow root) `element` is in, unless it is there already. */
export function injectStyles(element: HTMLElement): void {
  const root = element.getRootNode();
  const target: ParentNode | null = root instanceof ShadowRoot ? root : document.head;
  if (!target || target.querySelector(`style[${MARK}]`)) return;
  const style = document.createElement("style");
  style.setAttribute(MARK, "");
  style.textContent = css;
  // First, so the host's own rules (and its --ms-* variables) win over the defaults.
  target.insertBefore(style, target.firstChild);
}
