// The SolidJS component of the specification (`ChatEmbed`), on top of the
// framework-free embed.

import { onCleanup, onMount, splitProps } from "solid-js";
import { mountChat, type ChatHandle, type ChatOptions } from "./mount-chat";

export function ChatEmbed(props: ChatOptions & { onReady?: (chat: ChatHandle) => void }) {
  const [local, options] = splitProps(props, ["onReady"]);
  let container!: HTMLDivElement;
  let chat: ChatHandle | undefined;
  let disposed = false;
  onMount(() => {
    // Read once: a new session (other token, device or key backup) needs a new component.
    chat = mountChat(container, {
      homeserverUrl: options.homeserverUrl,
      accessToken: options.accessToken,
      userId: options.userId,
      deviceId: options.deviceId,
      roomId: options.roomId,
      showRoomList: options.showRoomList,
      keyBackup: options.keyBackup,
    });
    const mounted = chat;
    mounted.ready.then(
      () => !disposed && local.onReady?.(mounted),
      () => undefined, // shown in the embed (data-chat-error)
    );
  });
  onCleanup(() => {
    disposed = true;
    chat?.destroy();
  });
  return <div class="ms-chat-embed" ref={container} />;
}
