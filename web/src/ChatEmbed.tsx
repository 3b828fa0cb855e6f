// The SolidJS component of the specification (`ChatEmbed`), on top of the
// framework-free embed. It renders for the DOM only (no server-side
// rendering: the chat needs the browser's IndexedDB, WebCrypto and WASM).

import { createEffect, on, onCleanup, onMount, splitProps } from "solid-js";
import { mountChat, type ChatHandle, type ChatOptions } from "./mount-chat.js";

export type ChatEmbedProps = ChatOptions & {
  /** Called with the embed's handle once the chat is ready. */
  onReady?: (chat: ChatHandle) => void;
  /** A class for the element the chat is mounted in. */
  class?: string;
};

/**
 * The options as mountChat takes them, every prop passed on as it is (so a new option needs
 * nothing here), except that a callback is looked up at each call: the host may change it.
 */
function optionsOf(props: ChatOptions): ChatOptions {
  const options = { ...props } as Record<string, unknown>;
  for (const key of Object.keys(options)) {
    if (typeof options[key] === "function") {
      options[key] = (...args: unknown[]) => (props[key as keyof ChatOptions] as ((...a: unknown[]) => unknown) | undefined)?.(...args);
    }
  }
  return options as unknown as ChatOptions;
}

export function ChatEmbed(props: ChatEmbedProps) {
  const [local, options] = splitProps(props, ["onReady", "class"]);
  let container!: HTMLDivElement;
  let chat: ChatHandle | undefined;
  let disposed = false;
  onMount(() => {
    // The session is read once: a new session (other token, device or key backup) needs a
    // new component.
    chat = mountChat(container, optionsOf(options));
    const mounted = chat;
    mounted.ready.then(
      () => !disposed && local.onReady?.(mounted),
      () => undefined, // shown in the embed (data-chat-error), or destroyed first
    );
  });
  // A new roomId prop shows that room (the person can still pick others in the list).
  createEffect(
    on(
      () => options.roomId,
      (roomId) => {
        if (roomId) chat?.showRoom(roomId);
      },
      { defer: true },
    ),
  );
  onCleanup(() => {
    disposed = true;
    void chat?.destroy();
  });
  return <div class={local.class ? `ms-chat-embed ${local.class}` : "ms-chat-embed"} ref={container} />;
}
