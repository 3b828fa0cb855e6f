// The user's server-side key backup (its key comes from `/v1/sessions`):
// every room key this device receives is uploaded to it, and keys of
// messages sent before this device existed are restored from it, after the
// first sync and again whenever a message lacks its key.
//
// It keeps the mount element's data-key-backup ("active", "inactive",
// "none"), data-backup-restored ("true", "error", "none") and
// data-keys-backed-up-at up to date; after `stop()` (the chat destroyed or
// stopped) it writes none of them: the element may belong to a new chat.

import { decodeBase64, type MatrixClient, type MatrixEvent } from "matrix-js-sdk";
import { CryptoEvent } from "matrix-js-sdk/lib/crypto-api/index.js";
import { errorText } from "./dom.js";
import { lacksKey } from "./message.js";
import type { KeyBackupKey } from "./session.js";

/** The least time between two restores from the key backup. */
const RESTORE_GAP_MS = 5_000;
/** Further restores while messages still lack keys (a key may reach the backup a little later). */
const RESTORE_FOLLOW_UPS_MS = [5_000, 10_000, 20_000, 40_000];

export class KeyBackup {
  private synced = false;
  private stopped = false;
  private restoring = false;
  private restoreAgain = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private dueAt = 0;
  private lastStart = -Infinity;
  private firstDone = false;
  private followUps = 0;
  /** Megolm sessions seen failing; a new one restarts the follow-up restores. */
  private failedSessions = new Set<string>();

  constructor(
    private readonly client: MatrixClient,
    private readonly key: KeyBackupKey | null,
    private readonly element: HTMLElement,
    /** A restore ended: "waiting for its key" may have become "cannot be read". */
    private readonly changed: () => void,
  ) {
    client.on(CryptoEvent.KeyBackupSessionsRemaining, (remaining: number) => {
      if (remaining === 0) this.mark("keysBackedUpAt", String(Date.now()));
    });
  }

  /** Sets one of the element's data attributes, unless stopped. */
  private mark(name: "keyBackup" | "backupRestored" | "keysBackedUpAt", value: string): void {
    if (!this.stopped) this.element.dataset[name] = value;
  }

  /** Stores the backup's key and turns on uploads (once the crypto runs, before the first sync). */
  async setUp(): Promise<void> {
    const crypto = this.client.getCrypto();
    if (!this.key || !crypto) {
      this.mark("keyBackup", "none");
      this.mark("backupRestored", "none");
      return;
    }
    const { version, privateKey } = this.key;
    try {
      await crypto.storeSessionBackupPrivateKey(decodeBase64(privateKey), version);
      // Upload every room key this device gets. The crypto's own check at start-up may still be
      // running (without the key) and a call during it returns that same check: so check again
      // if the first did not enable the backup.
      let check = await crypto.checkKeyBackupAndEnable();
      if ((await crypto.getActiveSessionBackupVersion()) !== version) check = await crypto.checkKeyBackupAndEnable();
      if ((await crypto.getActiveSessionBackupVersion()) === version) {
        this.mark("keyBackup", "active");
      } else {
        this.mark("keyBackup", "inactive");
        console.warn(
          `matrix-sync chat: key backup version ${version} is not used for uploads ` +
            `(the homeserver's latest backup: ${check?.backupInfo?.version ?? "none"}; ` +
            `its key matches: ${String(check?.trustInfo.matchesDecryptionKey ?? false)})`,
        );
      }
    } catch (e) {
      this.mark("keyBackup", "inactive");
      console.warn(`matrix-sync chat: could not set up the key backup: ${errorText(e)}`);
    }
  }

  /** After the first sync: restore the keys of earlier messages, in the background. */
  start(): void {
    this.synced = true;
    this.request();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Whether a restore is still to come (so a missing key may yet arrive). */
  keyMayArrive(): boolean {
    return this.key !== null && !this.stopped && (!this.firstDone || this.restoring || this.timer !== undefined);
  }

  /** An event was decrypted, or failed to be: a new failing session asks for a restore. */
  onDecrypted(event: MatrixEvent, err?: Error): void {
    if (!err || !lacksKey(event)) return;
    const session = event.getWireContent()["session_id"];
    const key = `${event.getRoomId() ?? ""}|${typeof session === "string" ? session : ""}`;
    if (this.failedSessions.has(key)) return;
    this.failedSessions.add(key);
    this.followUps = 0;
    this.request();
  }

  private request(delayMs = 0): void {
    if (!this.key || this.stopped || !this.synced) return; // the first one comes after the first sync
    if (this.restoring) {
      this.restoreAgain = true;
      return;
    }
    const at = Math.max(Date.now() + delayMs, this.lastStart + RESTORE_GAP_MS);
    if (this.timer !== undefined) {
      if (at >= this.dueAt) return; // one is already coming sooner
      clearTimeout(this.timer);
    }
    this.dueAt = at;
    this.timer = setTimeout(() => void this.restore(), Math.max(0, at - Date.now()));
  }

  private anyLacksKey(): boolean {
    return this.client.getRooms().some((room) => room.getLiveTimeline().getEvents().some(lacksKey));
  }

  private async restore(): Promise<void> {
    this.timer = undefined;
    const crypto = this.client.getCrypto();
    if (!crypto || this.stopped) return;
    this.restoring = true;
    this.lastStart = Date.now();
    let ok = false;
    try {
      // Keys imported here make the SDK decrypt the events waiting for them (MatrixEventEvent.Decrypted).
      await crypto.restoreKeyBackup();
      ok = true;
    } catch (e) {
      console.warn(`matrix-sync chat: restoring keys from the backup failed: ${errorText(e)}`);
    }
    this.restoring = false;
    if (this.stopped) return;
    if (!this.firstDone) {
      this.firstDone = true;
      this.mark("backupRestored", ok ? "true" : "error");
    }
    if (this.restoreAgain) {
      this.restoreAgain = false;
      this.request();
    } else if (this.anyLacksKey() && this.followUps < RESTORE_FOLLOW_UPS_MS.length) {
      this.request(RESTORE_FOLLOW_UPS_MS[this.followUps++]);
    }
    this.changed();
  }
}
