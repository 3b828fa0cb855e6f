// Signing in to the chat through matrix-sync's `POST /v1/sessions`, keeping
// one Matrix device per user and browser: the device a user got last time is
// remembered in local storage and asked for again, so a reload reuses that
// device and its end-to-end encryption keys (its crypto store in IndexedDB)
// instead of making a new device whose store would clash with the old one.
//
// Nothing here logs or stores a token or a key: local storage holds only
// which device each Matrix user has.

/** The key of the user's server-side key backup, as `/v1/sessions` hands it out. */
export interface KeyBackupKey {
  /** The backup version (the user's latest backup on the homeserver). */
  version: string;
  /** The 32-byte Curve25519 private key of the backup, unpadded base64. */
  privateKey: string;
}

/** A signed-in chat session; its fields fit `ChatOptions` (`mountChat(el, { ...session, roomId })`). */
export interface ChatSession {
  /** The Matrix user id, `@{sub}:{server}`. */
  userId: string;
  accessToken: string;
  deviceId: string;
  homeserverUrl: string;
  /** Null when the operator turned key backup off. */
  keyBackup: KeyBackupKey | null;
}

export interface SignInOptions {
  /** The identity provider's token of the platform user (a JWT whose `sub` is their UUID). */
  idpToken: string;
  /** Where matrix-sync's sessions endpoint is; default `"/v1/sessions"` (same origin). */
  sessionsUrl?: string;
  /**
   * Where to remember each user's device; default `window.localStorage`. When it cannot be
   * used (storage disabled), every sign-in gets a new device.
   */
  storage?: Storage | null;
  /** The fetch to use; default the global one. */
  fetch?: typeof fetch;
}

/** A sign-in that matrix-sync refused (`code` as in its error body) or that could not be made. */
export class SignInError extends Error {
  constructor(
    /** matrix-sync's error code (e.g. `invalid_token`), or `http_<status>` / `network` / `bad_response`. */
    readonly code: string,
    message: string,
    /** The HTTP status; 0 when there was no answer. */
    readonly status: number,
  ) {
    super(message);
    this.name = "SignInError";
  }
}

/**
 * The IndexedDB prefix of the crypto store of one device of one user (the Rust crypto's two
 * databases are `${prefix}::matrix-sdk-crypto` and `${prefix}::matrix-sdk-crypto-meta`).
 * IndexedDB allows any string as a database name.
 */
export function cryptoStorePrefix(userId: string, deviceId: string): string {
  return `matrix-sync:${userId}:${deviceId}`;
}

/**
 * Deletes the crypto store of a device (its keys; the device can never be used again in this
 * browser). Only while no client of that device runs: if one is open elsewhere (another tab),
 * the deletion waits in the browser until it closes, and this resolves without waiting.
 */
export async function deleteCryptoStore(userId: string, deviceId: string): Promise<void> {
  let idb: IDBFactory | undefined;
  try {
    idb = globalThis.indexedDB;
  } catch {
    return; // no IndexedDB here (then there is no store either)
  }
  if (!idb) return;
  const prefix = cryptoStorePrefix(userId, deviceId);
  // The names matrix-js-sdk's `clearStores` deletes for the Rust crypto.
  for (const name of [`${prefix}::matrix-sdk-crypto`, `${prefix}::matrix-sdk-crypto-meta`]) {
    await new Promise<void>((resolve) => {
      let request: IDBOpenDBRequest;
      try {
        request = idb.deleteDatabase(name);
      } catch {
        resolve();
        return;
      }
      request.onsuccess = () => resolve();
      request.onerror = () => resolve(); // e.g. private browsing; nothing more to do
      request.onblocked = () => resolve(); // still queued: done once the other connection closes
    });
  }
}

/**
 * Whether this browser still has the crypto store of a device (true when it cannot tell:
 * `indexedDB.databases()` is missing). A device whose store is gone must never be used again:
 * starting it on a fresh store would upload new keys for an old device id.
 */
export async function hasCryptoStore(userId: string, deviceId: string): Promise<boolean> {
  try {
    const idb = globalThis.indexedDB;
    if (!idb || typeof idb.databases !== "function") return true;
    const name = `${cryptoStorePrefix(userId, deviceId)}::matrix-sdk-crypto`;
    return (await idb.databases()).some((db) => db.name === name);
  } catch {
    return true;
  }
}

/** The local-storage item with the remembered devices, per sessions endpoint: `{ [url]: { [userId]: deviceId } }`. */
const DEVICES_ITEM = "matrix-sync:devices";

type DeviceMap = Record<string, Record<string, string>>;

function defaultStorage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // storage disabled (a SecurityError on access)
  }
}

function loadDevices(storage: Storage | null): DeviceMap {
  if (!storage) return {};
  try {
    const parsed: unknown = JSON.parse(storage.getItem(DEVICES_ITEM) ?? "{}");
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return {};
    const map: DeviceMap = {};
    for (const [url, users] of Object.entries(parsed as Record<string, unknown>)) {
      if (!users || typeof users !== "object" || Array.isArray(users)) continue;
      const clean: Record<string, string> = {};
      for (const [user, device] of Object.entries(users as Record<string, unknown>)) {
        if (typeof device === "string" && device) clean[user] = device;
      }
      map[url] = clean;
    }
    return map;
  } catch {
    return {};
  }
}

function saveDevices(storage: Storage | null, map: DeviceMap): void {
  if (!storage) return;
  for (const url of Object.keys(map)) if (Object.keys(map[url] ?? {}).length === 0) delete map[url];
  try {
    if (Object.keys(map).length === 0) storage.removeItem(DEVICES_ITEM);
    else storage.setItem(DEVICES_ITEM, JSON.stringify(map));
  } catch {
    // quota or disabled storage: the next sign-in gets a new device
  }
}

/** The `sub` claim of a JWT, read without verifying it (only to pick the remembered device); null if unreadable. */
export function tokenSubject(token: string): string | null {
  const payload = token.split(".")[1];
  if (!payload) return null;
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    const sub = claims && typeof claims === "object" ? (claims as Record<string, unknown>)["sub"] : undefined;
    return typeof sub === "string" && sub ? sub : null;
  } catch {
    return null;
  }
}

/** Whether a Matrix user id (`@localpart:server`) has this localpart. */
function isUserOf(userId: string, sub: string): boolean {
  return userId.toLowerCase().startsWith(`@${sub.toLowerCase()}:`);
}

function resolveUrl(url: string): string {
  try {
    return new URL(url, globalThis.location?.href).href;
  } catch {
    return url;
  }
}

interface Answer {
  status: number;
  body: unknown;
}

async function postSession(
  doFetch: typeof fetch,
  url: string,
  idpToken: string,
  deviceId: string | undefined,
): Promise<Answer> {
  let response: Response;
  try {
    response = await doFetch(url, {
      method: "POST",
      headers: { Authorization: `Bearer ${idpToken}`, "Content-Type": "application/json" },
      body: JSON.stringify(deviceId ? { device_id: deviceId } : {}),
      credentials: "same-origin",
    });
  } catch (e) {
    throw new SignInError("network", `could not reach the chat sign-in (${String(e)})`, 0);
  }
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // not JSON (a proxy's error page): described by the status below
  }
  return { status: response.status, body };
}

function errorOf(answer: Answer): SignInError {
  const error = (answer.body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = typeof error?.code === "string" ? error.code : `http_${answer.status}`;
  const message = typeof error?.message === "string" ? error.message : `chat sign-in failed (${answer.status})`;
  return new SignInError(code, message, answer.status);
}

function isUnknownDevice(answer: Answer): boolean {
  return answer.status === 404 && errorOf(answer).code === "unknown_device";
}

function sessionOf(answer: Answer): ChatSession {
  const body = answer.body as Record<string, unknown> | null;
  const str = (key: string): string => {
    const value = body?.[key];
    if (typeof value !== "string" || !value) throw new SignInError("bad_response", `the sign-in answer has no ${key}`, answer.status);
    return value;
  };
  const backup = body?.["key_backup"] as { version?: unknown; private_key?: unknown } | null | undefined;
  let keyBackup: KeyBackupKey | null = null;
  if (backup && typeof backup === "object") {
    if (typeof backup.version !== "string" || typeof backup.private_key !== "string") {
      throw new SignInError("bad_response", "the sign-in answer's key_backup is incomplete", answer.status);
    }
    keyBackup = { version: backup.version, privateKey: backup.private_key };
  }
  return {
    userId: str("matrix_user_id"),
    accessToken: str("access_token"),
    deviceId: str("device_id"),
    homeserverUrl: str("homeserver_url"),
    keyBackup,
  };
}

/**
 * Signs the platform user in to the chat (`POST /v1/sessions`), on the device this browser
 * used for them before if there is one (a new one otherwise). A device the server no longer
 * knows is forgotten and its crypto store deleted; so is the previous device when the server
 * hands out another one. Call it before mounting the chat (no client of the user may run).
 * Rejects with a `SignInError`.
 */
export async function signIn(options: SignInOptions): Promise<ChatSession> {
  const storage = options.storage === undefined ? defaultStorage() : options.storage;
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const url = resolveUrl(options.sessionsUrl ?? "/v1/sessions");
  const sub = tokenSubject(options.idpToken);

  const devices = loadDevices(storage);
  const known = sub ? Object.entries(devices[url] ?? {}).filter(([user]) => isUserOf(user, sub)) : [];
  // Only an unambiguous entry is asked for (two would mean the server's name changed).
  let remembered = known.length === 1 ? known[0] : undefined;
  if (remembered && !(await hasCryptoStore(remembered[0], remembered[1]))) {
    // Site data partly cleared (the keys are gone): a new device, and the old one is forgotten.
    const current = loadDevices(storage);
    if (current[url]?.[remembered[0]] === remembered[1]) delete current[url]?.[remembered[0]];
    saveDevices(storage, current);
    remembered = undefined;
  }

  let answer = await postSession(doFetch, url, options.idpToken, remembered?.[1]);
  if (remembered && isUnknownDevice(answer)) {
    // The device was deleted (e.g. the user signed out everywhere): its keys are useless.
    const [userId, deviceId] = remembered;
    const current = loadDevices(storage);
    if (current[url]?.[userId] === deviceId) delete current[url]?.[userId];
    saveDevices(storage, current);
    await deleteCryptoStore(userId, deviceId);
    answer = await postSession(doFetch, url, options.idpToken, undefined);
  }
  if (answer.status < 200 || answer.status >= 300) throw errorOf(answer);
  const session = sessionOf(answer);

  // Remember this device; every other device of the same user here is replaced.
  const current = loadDevices(storage);
  const forUrl = (current[url] ??= {});
  const replaced: Array<[string, string]> = [];
  for (const [user, device] of Object.entries(forUrl)) {
    const sameUser = user === session.userId || (sub !== null && isUserOf(user, sub));
    if (sameUser && !(user === session.userId && device === session.deviceId)) {
      replaced.push([user, device]);
      delete forUrl[user];
    }
  }
  forUrl[session.userId] = session.deviceId;
  saveDevices(storage, current);
  for (const [user, device] of replaced) await deleteCryptoStore(user, device);
  return session;
}
