// The smallest host of the chat: sign in with the platform's identity-provider
// token, mount the chat on the request's DM. The token and the room come in
// the URL's hash (never sent to a server): #idp_token=…&dm=!room:server. The
// token is taken out of the address bar once read (the history would keep
// it); a platform gets its token from its own sign-in instead.

import { mountChat, signIn, SignInError } from "@matrix-sync/chat";

const params = new URLSearchParams(location.hash.slice(1));
const idpToken = params.get("idp_token") ?? "";
params.delete("idp_token");
history.replaceState(history.state, "", `${location.pathname}${location.search}#${params.toString()}`);
const status = document.getElementById("status");
const element = document.getElementById("chat");

async function start(): Promise<void> {
  if (!status || !element) return;
  try {
    const session = await signIn({ idpToken });
    const chat = mountChat(element, {
      ...session,
      roomId: params.get("dm") ?? undefined,
      showRoomList: false,
      onUnread: (total) => (document.title = total > 0 ? `(${total}) Coordinate your request` : "Coordinate your request"),
    });
    await chat.ready;
    status.textContent = "";
  } catch (e) {
    status.dataset["testid"] = "error";
    status.textContent = e instanceof SignInError ? `Sign-in failed: ${e.code}` : `The chat could not start: ${String(e)}`;
  }
}

void start();
