// Small DOM helpers shared by the embed's views, and the keyed list update
// that keeps nodes (and so focus, images and scroll position) across renders.

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A `<button type="button">`; `focusKey` lets a re-rendered list give focus back to its replacement. */
export function button(
  className: string,
  text: string,
  onClick: (e: MouseEvent) => void,
  options: { label?: string; focusKey?: string } = {},
): HTMLButtonElement {
  const node = el("button", className, text);
  node.type = "button";
  if (options.label) node.setAttribute("aria-label", options.label);
  if (options.focusKey) node.dataset["focusKey"] = options.focusKey;
  node.addEventListener("click", onClick);
  return node;
}

let ids = 0;
/** An id unique in the page (several embeds may be mounted). */
export function uniqueId(what: string): string {
  ids += 1;
  return `ms-${what}-${ids}`;
}

export interface Row<K> {
  key: K;
  /** Everything the node shows: a row is rebuilt only when this changes. */
  sig: string;
  create(): HTMLElement;
}

/**
 * A list of child nodes kept in step with rows by key. Unchanged rows keep their node; a
 * changed row gets a new node in place. Focus inside a replaced node moves to the element
 * with the same `data-focus-key` in its replacement (keyboard users keep their place).
 */
export class KeyedList<K> {
  private nodes = new Map<K, { sig: string; node: HTMLElement }>();
  private keys = new WeakMap<Node, K>();

  constructor(readonly parent: HTMLElement) {}

  nodeOf(key: K): HTMLElement | undefined {
    return this.nodes.get(key)?.node;
  }

  keyOf(node: Node): K | undefined {
    return this.keys.get(node);
  }

  clear(): void {
    this.nodes.clear();
    this.parent.replaceChildren();
  }

  update(rows: Row<K>[]): void {
    const active = document.activeElement;
    const focusKey =
      active instanceof HTMLElement && this.parent.contains(active) ? active.dataset["focusKey"] : undefined;
    const next = new Map<K, { sig: string; node: HTMLElement }>();
    const wanted: HTMLElement[] = [];
    for (const row of rows) {
      if (next.has(row.key)) continue; // a key twice: the first wins
      let entry = this.nodes.get(row.key);
      if (!entry || entry.sig !== row.sig) {
        entry = { sig: row.sig, node: row.create() };
        this.keys.set(entry.node, row.key);
      }
      next.set(row.key, entry);
      wanted.push(entry.node);
    }
    const keep = new Set(wanted);
    for (const { node } of this.nodes.values()) if (!keep.has(node)) node.remove();
    let cursor = this.parent.firstChild;
    for (const node of wanted) {
      if (node === cursor) cursor = cursor.nextSibling;
      else this.parent.insertBefore(node, cursor);
    }
    this.nodes = next;
    if (focusKey && !(document.activeElement instanceof HTMLElement && this.parent.contains(document.activeElement))) {
      const target = this.parent.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(focusKey)}"]`);
      target?.focus({ preventScroll: true });
    }
  }
}

/** A size for people: "1.2 MB", "350 KB", "12 bytes" (powers of 1024, as homeservers count their limit). */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const rounded = value >= 10 || Number.isInteger(value) ? Math.round(value) : Math.round(value * 10) / 10;
  return `${rounded} ${units[unit]}`;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
