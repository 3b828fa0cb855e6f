// How people and rooms are named on the page. A member shows by their display
// name and avatar; their Matrix id (`@uuid:server`, the platform's user id)
// is shown only for someone who has no display name at all. Matrix's own
// disambiguation ("Alice (@alice:server)") is not used: it would print the id.
// Instead, when members of a room (joined or invited, service accounts
// aside) share a display name, all but the first (by the time of their
// membership event: who joined, or took the name, later) get a number,
// "Alice Martin (2)", and every one of them is marked (`sharesName`), so
// nobody passes for another by taking their name.

import {
  EventType,
  KnownMembership,
  RoomMemberEvent,
  RoomStateEvent,
  type MatrixClient,
  type Room,
} from "matrix-js-sdk";
import { el } from "./dom.js";
import type { Media } from "./media.js";

interface Profile {
  name?: string;
  avatar?: string;
}

export class People {
  /** Profiles of people outside the room's state (an inviter seen only in an invitation). */
  private profiles = new Map<string, Profile | "loading">();

  private readonly serviceUsers: Set<string>;
  /** Per room, the members whose display name another member also has: their name with its number. */
  private shared = new WeakMap<Room, Map<string, string>>();

  constructor(
    private readonly client: MatrixClient,
    private readonly media: Media,
    /** Called when a profile fetched in the background arrived. */
    private readonly changed: () => void,
    serviceUsers: readonly string[] = [],
  ) {
    this.serviceUsers = new Set(serviceUsers);
    // A member joined, left or renamed: the numbers are worked out again.
    const forget = () => (this.shared = new WeakMap());
    client.on(RoomStateEvent.Members, forget);
    client.on(RoomMemberEvent.Name, forget);
  }

  /** The members of a room who share their display name with another, each with their numbered name. */
  private sharedNames(room: Room): Map<string, string> {
    const known = this.shared.get(room);
    if (known) return known;
    const byName = new Map<string, { userId: string; since: number }[]>();
    for (const member of room.getMembers()) {
      // The people in the room now (as Matrix's own disambiguation counts them); the service's
      // accounts (several may be called "matrix-sync") pass for no one.
      const present = member.membership === KnownMembership.Join || member.membership === KnownMembership.Invite;
      const name = member.rawDisplayName;
      if (!present || !name || name === member.userId || this.isService(room, member.userId)) continue;
      const key = name.normalize("NFKC").toLowerCase();
      const holders = byName.get(key) ?? [];
      holders.push({ userId: member.userId, since: member.events.member?.getTs() ?? 0 });
      byName.set(key, holders);
    }
    const shared = new Map<string, string>();
    for (const holders of byName.values()) {
      if (holders.length < 2) continue;
      holders.sort((a, b) => a.since - b.since || (a.userId < b.userId ? -1 : 1));
      holders.forEach(({ userId }, i) => {
        const name = room.getMember(userId)?.rawDisplayName ?? "";
        shared.set(userId, i === 0 ? name : `${name} (${i + 1})`);
      });
    }
    this.shared.set(room, shared);
    return shared;
  }

  /** Whether another member of the room has this person's display name (the page marks it). */
  sharesName(room: Room | null | undefined, userId: string): boolean {
    return room ? this.sharedNames(room).has(userId) : false;
  }

  /**
   * Whether a member is a service account rather than a person: one the host named, or the
   * creator of a room matrix-sync made (its `m.room.create` carries `org.matrix_sync.room`;
   * the service's managing account stays in such rooms to administer them).
   */
  isService(room: Room, userId: string): boolean {
    if (this.serviceUsers.has(userId)) return true;
    const create = room.currentState.getStateEvents(EventType.RoomCreate, "");
    return create?.getSender() === userId && create.getContent()["org.matrix_sync.room"] !== undefined;
  }

  /** The people in a room (joined, or also invited), service accounts left out. */
  people(room: Room, withInvited = false): string[] {
    return room
      .getMembers()
      .filter(
        (m) =>
          (m.membership === KnownMembership.Join || (withInvited && m.membership === KnownMembership.Invite)) &&
          !this.isService(room, m.userId),
      )
      .map((m) => m.userId);
  }

  private profile(userId: string): Profile | undefined {
    const known = this.profiles.get(userId);
    if (known === "loading") return undefined;
    if (known) return known;
    this.profiles.set(userId, "loading");
    this.client.getProfileInfo(userId).then(
      (p) => {
        this.profiles.set(userId, { name: p.displayname || undefined, avatar: p.avatar_url || undefined });
        this.changed();
      },
      () => this.profiles.set(userId, {}),
    );
    return undefined;
  }

  /** The name to show for a user, in a room when given. */
  name(room: Room | null | undefined, userId: string): string {
    const member = room?.getMember(userId);
    const fromMember = member?.rawDisplayName;
    if (room && fromMember && fromMember !== userId) return this.sharedNames(room).get(userId) ?? fromMember;
    const user = this.client.getUser(userId);
    if (user?.displayName && user.displayName !== userId) return user.displayName;
    const profile = member ? undefined : this.profile(userId);
    return profile?.name ?? userId;
  }

  avatarMxc(room: Room | null | undefined, userId: string): string | undefined {
    const member = room?.getMember(userId);
    if (member) return member.getMxcAvatarUrl() ?? undefined;
    return this.client.getUser(userId)?.avatarUrl ?? this.profile(userId)?.avatar;
  }

  /**
   * A round avatar: the picture when there is one (fetched with the access token), the
   * initials on a colour of the person's own until then or otherwise. Decorative (the name
   * is always shown beside it), so hidden from screen readers.
   */
  avatar(room: Room | null | undefined, userId: string): HTMLElement {
    const name = this.name(room, userId);
    const node = el("span", "ms-avatar", initials(name));
    node.setAttribute("aria-hidden", "true");
    // The hue is the person's own; saturation and lightness are the stylesheet's (themable).
    node.style.setProperty("--_hue", String(hueOf(userId)));
    const mxc = this.avatarMxc(room, userId);
    if (mxc?.startsWith("mxc://")) {
      this.media.objectUrl({ mxc }, undefined, { width: 96, height: 96, method: "crop" }).then(
        (url) => {
          const img = el("img");
          img.alt = "";
          img.src = url;
          node.append(img);
        },
        () => undefined, // the initials stay
      );
    }
    return node;
  }

  /** Who invited this person to a room (the sender of their invite). */
  inviter(room: Room): string | undefined {
    const me = this.client.getUserId();
    const invite = me ? room.currentState.getStateEvents(EventType.RoomMember, me) : null;
    return invite?.getContent()["membership"] === KnownMembership.Invite ? invite.getSender() : undefined;
  }

  /**
   * A room's title: its name when it has one, otherwise the names of the other people in it
   * (a DM shows the other person's name).
   */
  roomTitle(room: Room): string {
    const named = room.currentState.getStateEvents(EventType.RoomName, "")?.getContent()["name"];
    if (typeof named === "string" && named.trim()) return named.trim();
    const me = this.client.getUserId();
    const others = this.people(room, true)
      .filter((id) => id !== me)
      .map((id) => this.name(room, id))
      .sort((a, b) => a.localeCompare(b));
    if (others.length === 0) {
      // An invitation: only its stripped state is known, maybe just who invited.
      const inviter = this.inviter(room);
      return inviter ? this.name(room, inviter) : "Empty room";
    }
    if (others.length <= 3) return joinNames(others);
    return `${others.slice(0, 2).join(", ")} and ${others.length - 2} others`;
  }
}

export function joinNames(names: string[]): string {
  if (names.length <= 1) return names[0] ?? "";
  return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

function initials(name: string): string {
  const words = name.replace(/^[@#!]/, "").split(/[\s:._-]+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[1]] : [words[0] ?? "?"];
  return letters.map((w) => Array.from(w ?? "?")[0]?.toUpperCase() ?? "").join("");
}

function hueOf(id: string): number {
  let hash = 0;
  for (let i = 0; i < id.length; i++) hash = (hash * 31 + id.charCodeAt(i)) >>> 0;
  return hash % 360;
}
