// `@matrix-sync/chat/solid`: the SolidJS component on top of the framework-free embed.

export { ChatEmbed, type ChatEmbedProps } from "./ChatEmbed.jsx";
export type { ChatHandle, ChatOptions, UnreadCounts } from "./mount-chat.js";
