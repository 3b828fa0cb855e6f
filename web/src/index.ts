export { mountChat, type ChatHandle, type ChatOptions } from "./mount-chat";
export { ChatEmbed } from "./ChatEmbed";
