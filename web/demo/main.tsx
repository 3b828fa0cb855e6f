// The demo page: the platform's chat entry points (Community "Chat",
// Council "Chat", Request "Coordinate", Messages), signed in through
// matrix-sync's /v1/sessions with a token from the (local, test) identity
// provider. Everything it needs comes in the URL's hash, never its query,
// so no token reaches a server log:
//   #idp_token=…&name=Alice&general=!room&council=!room&dm=!room

import { createSignal, For, Show } from "solid-js";
import { render } from "solid-js/web";
import { ChatEmbed } from "../src/ChatEmbed";
import type { ChatHandle } from "../src/mount-chat";

interface Session {
  matrix_user_id: string;
  access_token: string;
  device_id: string;
  homeserver_url: string;
}

const params = new URLSearchParams(location.hash.slice(1));
const tabs = [
  { id: "general", label: "Community · Chat", room: params.get("general") },
  { id: "council", label: "Council · Chat", room: params.get("council") },
  { id: "dm", label: "Request · Coordinate", room: params.get("dm") },
  { id: "messages", label: "Messages", room: null },
].filter((t) => t.id === "messages" || t.room);

async function signIn(): Promise<Session> {
  const response = await fetch("/v1/sessions", {
    method: "POST",
    headers: { Authorization: `Bearer ${params.get("idp_token") ?? ""}` },
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`${body?.error?.code ?? response.status}: ${body?.error?.message ?? ""}`);
  return body as Session;
}

function App() {
  const [session, setSession] = createSignal<Session>();
  const [error, setError] = createSignal<string>();
  const [tab, setTab] = createSignal(params.get("tab") ?? tabs[0]?.id ?? "messages");
  const [chat, setChat] = createSignal<ChatHandle>();
  const choose = (id: string) => {
    setTab(id);
    const room = tabs.find((t) => t.id === id)?.room;
    if (room) chat()?.showRoom(room);
  };
  signIn().then(setSession, (e: unknown) => setError(String(e)));
  return (
    <>
      <header>
        <h1>Makers' Collective</h1>
        <span data-testid="who">{session()?.matrix_user_id ?? params.get("name") ?? ""}</span>
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
              homeserverUrl={s().homeserver_url}
              accessToken={s().access_token}
              userId={s().matrix_user_id}
              deviceId={s().device_id}
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
