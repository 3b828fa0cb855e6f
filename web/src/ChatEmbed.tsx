// The SolidJS component of the specification (`ChatEmbed`), on top of the
// framework-free embed.

import { onCleanup, onMount } from "solid-js";
import { mountChat, type ChatHandle, type ChatOptions } from "./mount-chat";

export function ChatEmbed(props: ChatOptions & { onReady?: (chat: ChatHandle) => void }) {
  let container!: HTMLDivElement;
  let chat: ChatHandle | undefined;
  onMount(() => {
    chat = mountChat(container, props);
    void chat.ready.then(() => chat && props.onReady?.(chat));
  });
  onCleanup(() => chat?.destroy());
  return <div class="ms-chat-embed" ref={container} />;
}
