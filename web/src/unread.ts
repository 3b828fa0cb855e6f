// Unread counts, per joined room and in total, handed to `onUnread` whenever
// they change. One number per room, from one rule:
//  - counted here, from the live timeline: the messages of others after this
//    person's read receipt (or their own last event, their join included)
//    that their push rules say notify, decrypted content included (the
//    homeserver cannot read an encrypted message, so it counts every one);
//  - the homeserver's count (`unread_notifications` of the last sync, thread
//    counts added: the embed shows threads in the room) only when the live
//    timeline does not reach back to the read receipt (a gap after being
//    offline, or more unread than the first sync loads): then the count here
//    sees only part of them, and the larger of the two is taken.
// matrix-js-sdk's own `getUnreadNotificationCount()` is not used: it takes the
// server's number in unencrypted rooms but counts decryptions itself in
// encrypted ones, so it would disagree with both. A room on screen counts 0:
// its read receipt is on its way.

import {
  EventType,
  KnownMembership,
  MemoryStore,
  type ISyncResponse,
  type MatrixClient,
  type MatrixEvent,
  type Room,
} from "matrix-js-sdk";
import { isAmendment } from "./message.js";

export interface UnreadCounts {
  total: number;
  /** Every joined room's count, by room id (0 included; spaces are not rooms here). */
  rooms: Record<string, number>;
}

/** How far back a room's timeline is searched for this person's read receipt. */
const MAX_UNREAD = 999;

/**
 * matrix-js-sdk's in-memory store (what `createClient` uses by default) that also keeps the
 * homeserver's unread counts of each room as the last sync gave them: the SDK drops them in
 * encrypted rooms. Nothing else changes.
 */
export class UnreadStore extends MemoryStore {
  private counts = new Map<string, number>();
  /** Called after a sync changed a count. */
  onCounts: (() => void) | undefined;

  constructor() {
    let localStorage: Storage | undefined;
    try {
      localStorage = globalThis.localStorage;
    } catch {
      // storage disabled: the SDK then keeps its filter ids in memory only
    }
    super({ localStorage });
  }

  /** The homeserver's count for a room (0 until a sync said otherwise). */
  serverCount(roomId: string): number {
    return this.counts.get(roomId) ?? 0;
  }

  override setSyncData(syncData: ISyncResponse): Promise<void> {
    let changed = false;
    for (const [roomId, room] of Object.entries(syncData.rooms?.join ?? {})) {
      // A room without changes is not in an incremental sync: its last count stands.
      const main = room.unread_notifications?.notification_count;
      const threads = room["unread_thread_notifications"] ?? room["org.matrix.msc3773.unread_thread_notifications"];
      if (main === undefined && threads === undefined) continue;
      let count = main ?? 0;
      for (const thread of Object.values(threads ?? {})) count += thread.notification_count ?? 0;
      if (this.counts.get(roomId) !== count) changed = true;
      this.counts.set(roomId, count);
    }
    for (const roomId of Object.keys(syncData.rooms?.leave ?? {})) changed = this.counts.delete(roomId) || changed;
    if (changed) this.onCounts?.();
    return super.setSyncData(syncData);
  }
}

export class UnreadTracker {
  /** Whether an event notifies, by the type it had then (decryption changes it). */
  private notifies = new WeakMap<MatrixEvent, { type: string; notify: boolean }>();
  private last = "";
  current: UnreadCounts = { total: 0, rooms: {} };

  constructor(
    private readonly client: MatrixClient,
    private readonly store: UnreadStore,
    private readonly onUnread: ((total: number, rooms: Record<string, number>) => void) | undefined,
  ) {}

  private notifying(event: MatrixEvent): boolean {
    const type = event.getType();
    const known = this.notifies.get(event);
    if (known?.type === type) return known.notify;
    // Push rules not loaded yet: every message counts.
    const notify = this.client.pushRules ? !!this.client.getPushActionsForEvent(event, true)?.notify : true;
    this.notifies.set(event, { type, notify });
    return notify;
  }

  /**
   * The messages of others after this person's read position that notify, and whether the
   * live timeline reached that position (or the room's start), so the count is complete.
   */
  private countTimeline(room: Room): { count: number; complete: boolean } {
    const me = this.client.getUserId();
    const events = room.getLiveTimeline().getEvents();
    let count = 0;
    for (let i = events.length - 1; i >= 0; i--) {
      if (count >= MAX_UNREAD) return { count, complete: false };
      const event = events[i];
      if (!event) continue;
      // Writing in a room reads it; joining starts it (the messages before are not unread).
      if (event.getSender() === me) return { count, complete: true };
      const id = event.getId();
      if (me && id && !event.status && room.hasUserReadEvent(me, id)) return { count, complete: true };
      if (event.isState() || event.isRedacted() || isAmendment(event)) continue;
      const type = event.getType();
      if (type !== EventType.RoomMessage && type !== EventType.RoomMessageEncrypted) continue;
      if (this.notifying(event)) count++;
    }
    // The whole timeline seen without finding it: complete only if nothing comes before it.
    return { count, complete: room.oldState.paginationToken === null };
  }

  /** A room's count, as the host is told it (see the top of this file). */
  count(room: Room): number {
    const { count, complete } = this.countTimeline(room);
    return complete ? count : Math.max(count, this.store.serverCount(room.roomId));
  }

  /** Recounts; `onScreen` is the room the person is looking at (it counts 0). */
  update(onScreen: string | undefined): void {
    const rooms: Record<string, number> = {};
    let total = 0;
    for (const room of this.client.getRooms()) {
      if (room.getMyMembership() !== KnownMembership.Join || room.isSpaceRoom()) continue;
      const count = room.roomId === onScreen ? 0 : this.count(room);
      rooms[room.roomId] = count;
      total += count;
    }
    const key = JSON.stringify([total, Object.entries(rooms).sort(([a], [b]) => a.localeCompare(b))]);
    if (key === this.last) return;
    this.last = key;
    this.current = { total, rooms };
    try {
      this.onUnread?.(total, { ...rooms });
    } catch (e) {
      // The host's callback failing must not stop the chat.
      console.error("matrix-sync chat: onUnread threw", e);
    }
  }
}
