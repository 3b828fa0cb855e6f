// The demo page: the platform's chat entry points (Community "Chat",
// Council "Chat", Request "Coordinate", Messages), signed in through
// matrix-sync's /v1/sessions with a token from the (local, test) identity
// provider. Everything it needs comes in the URL's hash, never its query,
// so no token reaches a server log:
//   #idp_token=…&name=Alice&general=!room&council=!room&dm=!room&tab=council
// The page signs in on the device this browser used for the user before
// (remembered in local storage), so a reload keeps the device and its keys;
// the user's key backup brings the keys of messages from before the device.

import { createEffect, createSignal, For, Show } from "solid-js";
import { render } from "solid-js/web";
import { ChatEmbed, signIn, SignInError, type ChatHandle, type ChatSession } from "../src/index";

const params = new URLSearchParams(location.hash.slice(1));
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
  const [chat, setChat] = createSignal<ChatHandle>();
  const choose = (id: string) => setTab(id);
  // The chosen tab's room, also when a tab was picked before the chat was ready.
  createEffect(() => {
    const room = tabs.find((t) => t.id === tab())?.room;
    const c = chat();
    if (c && room) c.showRoom(room);
  });
  // On the device this browser used for the user before (its keys are in this browser).
  signIn({ idpToken: params.get("idp_token") ?? "" }).then(setSession, (e: unknown) =>
    setError(e instanceof SignInError ? `${e.code}: ${e.message}` : String(e)),
  );
  return (
    <>
      <header>
        <h1>Makers' Collective</h1>
        <span data-testid="who">{session()?.userId ?? params.get("name") ?? ""}</span>
      </header>
      <nav role="tablist">
        <For each={tabs}>
          {(t) => (
            <button role="tab" data-tab={t.id} aria-selected={tab() === t.id} onClick={() => choose(t.id)}>
              {t.label}
            </button>
          )}
        </For>
      </nav>
      <main>
        <Show when={error()}>{(e) => <p class="status" data-testid="error">Sign-in failed: {e()}</p>}</Show>
        <Show when={session()} fallback={<Show when={!error()}><p class="status">Signing in…</p></Show>}>
          {(s) => (
            // One client per page (one device, one crypto store); the tabs
            // only choose which room it shows.
            <ChatEmbed
              homeserverUrl={s().homeserverUrl}
              accessToken={s().accessToken}
              userId={s().userId}
              deviceId={s().deviceId}
              keyBackup={s().keyBackup}
              roomId={tabs.find((t) => t.id === tab())?.room ?? undefined}
              onReady={(chat) => setChat(chat)}
            />
          )}
        </Show>
      </main>
    </>
  );
}

const app = document.getElementById("app");
if (app) render(() => <App />, app);
