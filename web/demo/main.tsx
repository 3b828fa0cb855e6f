// The demo page: the platform's chat entry points (Community "Chat",
// Council "Chat", Request "Coordinate", Messages), signed in through
// matrix-sync's /v1/sessions with a token from the (local, test) identity
// provider. Everything it needs comes in the URL's hash, never its query,
// so no token reaches a server log:
//   #idp_token=…&name=Alice&general=!room&council=!room&dm=!room&tab=council&test=1
// The token is taken out of the address bar as soon as it is read (see
// takeToken). `test=1` puts the chat's handle on `window.matrixSyncChat` for
// the browser tests; without it nothing of the chat is global.
// The page signs in on the device this browser used for the user before
// (remembered in local storage), so a reload keeps the device and its keys;
// the user's key backup brings the keys of messages from before the device.
// It uses the chat as any host would: the packed @matrix-sync/chat.

import { createSignal, For, Show } from "solid-js";
import { render } from "solid-js/web";
import { signIn, SignInError, type ChatHandle, type ChatSession } from "@matrix-sync/chat";
import { ChatEmbed } from "@matrix-sync/chat/solid";

declare global {
  interface Window {
    /** The chat's handle once it is ready, with `test=1` only (the tests use its client directly). */
    matrixSyncChat?: ChatHandle;
  }
}

const params = new URLSearchParams(location.hash.slice(1));
const testing = params.get("test") === "1";

/** Where this tab keeps the token for a reload (session storage: this tab only, gone when it closes). */
const TOKEN_ITEM = "matrix-sync-demo:idp_token";

/**
 * The identity-provider token: from the hash, which is then rewritten without it (the address
 * bar, the history, a bookmark or a shared screen would show it otherwise); on a reload, from
 * session storage. A platform gets its token from its own sign-in instead.
 */
function takeToken(): string {
  const fromHash = params.get("idp_token");
  if (fromHash) {
    params.delete("idp_token");
    history.replaceState(history.state, "", `${location.pathname}${location.search}#${params.toString()}`);
    try {
      sessionStorage.setItem(TOKEN_ITEM, fromHash);
    } catch {
      // storage disabled: a reload needs the link again
    }
    return fromHash;
  }
  try {
    return sessionStorage.getItem(TOKEN_ITEM) ?? "";
  } catch {
    return "";
  }
}
const idpToken = takeToken();
const tabs = [
  { id: "general", label: "Community · Chat", room: params.get("general") },
  { id: "council", label: "Council · Chat", room: params.get("council") },
  { id: "dm", label: "Request · Coordinate", room: params.get("dm") },
  { id: "messages", label: "Messages", room: null },
].filter((t) => t.id === "messages" || t.room);

function App() {
  const [session, setSession] = createSignal<ChatSession>();
  const [error, setError] = createSignal<string>();
  const [tab, setTab] = createSignal(params.get("tab") ?? tabs[0]?.id ?? "messages");
  const [unread, setUnread] = createSignal(0);
  // Who is signed in, by name: the page never shows a Matrix id.
  const [who, setWho] = createSignal(params.get("name") ?? "");
  const [chat, setChat] = createSignal<ChatHandle>();
  // A tab shows its room, also when it is already selected (the person may have picked
  // another room in the list meanwhile).
  const choose = (id: string) => {
    setTab(id);
    const room = tabs.find((t) => t.id === id)?.room;
    if (room) chat()?.showRoom(room);
  };
  // On the device this browser used for the user before (its keys are in this browser).
  signIn({ idpToken }).then(setSession, (e: unknown) =>
    setError(e instanceof SignInError ? `${e.code}: ${e.message}` : String(e)),
  );
  const ready = (chat: ChatHandle) => {
    if (testing) window.matrixSyncChat = chat;
    setChat(chat);
    const client = chat.client;
    const me = client?.getUserId();
    if (client && me) {
      client.getProfileInfo(me, "displayname").then(
        (p) => p.displayname && setWho(p.displayname),
        () => undefined,
      );
    }
  };
  return (
    <>
      <header>
        <h1>Makers' Collective</h1>
        <span data-testid="who">{who()}</span>
      </header>
      <nav role="tablist" aria-label="Chat entry points">
        <For each={tabs}>
          {(t) => (
            <button
              role="tab"
              data-tab={t.id}
              data-unread={t.id === "messages" ? String(unread()) : undefined}
              aria-selected={tab() === t.id}
              onClick={() => choose(t.id)}
            >
              {t.label}
              <Show when={t.id === "messages" && unread() > 0}>
                <span class="badge" aria-label={`${unread()} unread`}>
                  {unread()}
                </span>
              </Show>
            </button>
          )}
        </For>
      </nav>
      <main>
        <Show when={error()}>{(e) => <p class="status" data-testid="error">Sign-in failed: {e()}</p>}</Show>
        <Show when={session()} fallback={<Show when={!error()}><p class="status">Signing in…</p></Show>}>
          {(s) => (
            // One client per page (one device, one crypto store); the tabs only choose
            // which room it shows (the Messages tab keeps the room on screen and its list).
            <ChatEmbed
              homeserverUrl={s().homeserverUrl}
              accessToken={s().accessToken}
              userId={s().userId}
              deviceId={s().deviceId}
              keyBackup={s().keyBackup}
              roomId={tabs.find((t) => t.id === tab())?.room ?? undefined}
              onReady={ready}
              onUnread={(total) => setUnread(total)}
            />
          )}
        </Show>
      </main>
    </>
  );
}

const app = document.getElementById("app");
if (app) render(() => <App />, app);
