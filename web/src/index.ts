// `@matrix-sync/chat`: the framework-free chat embed and the sign-in through
// matrix-sync's /v1/sessions. The SolidJS component is `@matrix-sync/chat/solid`.

export { mountChat, ChatDestroyedError, type ChatHandle, type ChatOptions, type UnreadCounts } from "./mount-chat.js";
export { chatStyles } from "./styles.js";
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
} from "./session.js";
