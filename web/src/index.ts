export { mountChat, type ChatHandle, type ChatOptions } from "./mount-chat";
export { ChatEmbed } from "./ChatEmbed";
export {
  signIn,
  cryptoStorePrefix,
  deleteCryptoStore,
  hasCryptoStore,
  tokenSubject,
  SignInError,
  type ChatSession,
  type KeyBackupKey,
  type SignInOptions,
} from "./session";
