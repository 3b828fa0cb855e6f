// What a timeline event shows: the text, picture or file of a message (its
// latest edit), "Message deleted" for a redaction, or one of the two key
// states of an encrypted message. Edits, redactions and reactions are not
// rows of their own: they change the message they point at (also once they
// are themselves redacted, which strips the relation that said so).

import { EventStatus, EventType, MatrixEvent, MatrixEventEvent, MsgType, RelationType, type Room } from "matrix-js-sdk";
import type { EncryptedFile, ImageInfo } from "matrix-js-sdk/lib/types.js";
import type { MediaSource } from "./media.js";

/** Failures that are about trusting the sender, not a missing key: no backup helps. */
const TRUST_FAILURES = new Set(["SENDER_IDENTITY_PREVIOUSLY_VERIFIED", "UNSIGNED_SENDER_DEVICE", "UNKNOWN_SENDER_DEVICE"]);

export const WAITING_TEXT = "Waiting for this message's key…";
export const CANNOT_READ_TEXT = "This message cannot be read on this device";
export const DELETED_TEXT = "Message deleted";

export type Body =
  | { kind: "text"; text: string; emote: boolean; notice: boolean }
  | { kind: "image"; name: string; source: MediaSource; thumb?: MediaSource; w?: number; h?: number; mimetype?: string }
  | { kind: "file"; name: string; source: MediaSource; size?: number; mimetype?: string }
  | { kind: "deleted" }
  | { kind: "undecryptable"; waiting: boolean };

export interface Message {
  event: MatrixEvent;
  id: string;
  sender: string;
  ts: number;
  body: Body;
  /** An edit replaced the first text. */
  edited: boolean;
  /** The event this one answers (`m.in_reply_to`). */
  replyTo?: string;
  pending: boolean;
  failed: boolean;
}

/** A decryption failure whose key could still come (from the sender or the backup). */
export function lacksKey(event: MatrixEvent): boolean {
  return event.isDecryptionFailure() && !TRUST_FAILURES.has(event.decryptionFailureReason ?? "");
}

/**
 * Whether an event id is the server's (`$…`): a local echo has a temporary id (`~…`) until
 * the homeserver accepts it, and cannot be replied to, edited, deleted or read-marked before.
 */
export function onServer(eventId: string | null | undefined): boolean {
  return typeof eventId === "string" && eventId.startsWith("$");
}

/** Whether the event changes another (edit, reaction, redaction…) instead of being a message. */
export function isAmendment(event: MatrixEvent): boolean {
  if (event.getType() === EventType.RoomRedaction || event.getType() === EventType.Reaction) return true;
  const relation = event.getWireContent()["m.relates_to"] as { rel_type?: unknown } | undefined;
  if (relation?.rel_type === RelationType.Replace || relation?.rel_type === RelationType.Annotation) return true;
  return event.isRelation(RelationType.Replace);
}

/**
 * Edits and reactions that were redacted while this page had them. A redaction strips
 * `m.relates_to`, so afterwards nothing in the event says it was an edit: it would show as a
 * spurious "Message deleted". Kept per event object (shared by every embed of the page).
 */
const redactedAmendments = new WeakSet<MatrixEvent>();

/** Notes, before the SDK strips them, which of a room's redacted events were amendments. */
export function watchRedactions(room: Room): void {
  room.on(MatrixEventEvent.BeforeRedaction, (event) => {
    if (isAmendment(event)) redactedAmendments.add(event);
  });
}

/**
 * Whether a redacted event was an amendment: seen as one before its redaction, or its
 * relation kept by the room version (MSC3389). An edit redacted before this page loaded it, in
 * a room version that strips relations, cannot be told apart and still shows as deleted.
 */
function wasAmendment(event: MatrixEvent): boolean {
  if (redactedAmendments.has(event)) return true;
  const relation = event.getWireContent()["m.relates_to"] as { rel_type?: unknown } | undefined;
  return relation?.rel_type === RelationType.Replace || relation?.rel_type === RelationType.Annotation;
}

function sourceOf(content: { url?: unknown; file?: unknown }): MediaSource | undefined {
  const file = content.file as EncryptedFile | undefined;
  if (file && typeof file === "object" && typeof file.url === "string") return { file };
  if (typeof content.url === "string" && content.url.startsWith("mxc://")) return { mxc: content.url };
  return undefined;
}

/** The first line of the spec's reply fallback: `> <@user:server> text` (`> * <@user:server>` for an emote). */
const FALLBACK_FIRST_LINE = /^> (\* )?<@[^\s>]+:[^\s>]+> /;

/**
 * A reply's text without the quoted fallback older clients put in front (it names people by
 * their Matrix id). Only when the content shows it has one: `formatted_body` with `<mx-reply>`,
 * or a body in the fallback's shape; a reply that merely starts with a quote keeps it. Never
 * for an edit's `m.new_content` (it has no fallback), nor needed for ours (we send none).
 */
export function stripReplyFallback(content: Record<string, unknown>, text: string): string {
  const formatted = content["formatted_body"];
  const marked = typeof formatted === "string" && formatted.includes("<mx-reply>");
  if (!marked && !FALLBACK_FIRST_LINE.test(text)) return text;
  const lines = text.split("\n");
  let i = 0;
  while (i < lines.length && lines[i]?.startsWith(">")) i++;
  if (i === 0) return text;
  if (lines[i] === "") i++;
  return lines.slice(i).join("\n");
}

/** `hasFallback`: the content may carry a reply fallback (a reply's original content, not an edit). */
function bodyOf(content: Record<string, unknown>, hasFallback: boolean): Body | null {
  const msgtype = content["msgtype"];
  const rawBody = typeof content["body"] === "string" ? content["body"] : "";
  const name = (typeof content["filename"] === "string" && content["filename"]) || rawBody || "attachment";
  if (msgtype === MsgType.Image) {
    const source = sourceOf(content);
    if (!source) return null;
    const info = (content["info"] ?? {}) as ImageInfo;
    const thumb = sourceOf({ url: info.thumbnail_url, file: info.thumbnail_file });
    return { kind: "image", name, source, thumb, w: info.w, h: info.h, mimetype: info.mimetype };
  }
  if (msgtype === MsgType.File || msgtype === MsgType.Audio || msgtype === MsgType.Video) {
    const source = sourceOf(content);
    if (!source) return null;
    const info = (content["info"] ?? {}) as { size?: number; mimetype?: string };
    return { kind: "file", name, source, size: info.size, mimetype: info.mimetype };
  }
  if (!rawBody && msgtype === undefined) return null;
  const text = hasFallback ? stripReplyFallback(content, rawBody) : rawBody;
  return { kind: "text", text, emote: msgtype === MsgType.Emote, notice: msgtype === MsgType.Notice };
}

/**
 * The message an event shows, or null when it is not one (state, edits, reactions, an
 * event still being decrypted). `keyMayArrive`: whether a key could still come.
 */
export function describe(event: MatrixEvent, keyMayArrive: boolean): Message | null {
  const id = event.getId() ?? "";
  const base = {
    event,
    id,
    sender: event.getSender() ?? "",
    ts: event.getTs(),
    edited: false,
    pending: event.status !== null && event.status !== undefined,
    failed: event.status === EventStatus.NOT_SENT,
  };
  const type = event.getType();
  if (event.isRedacted()) {
    // What the redaction left does not say whether it was an edit: see wasAmendment.
    if (wasAmendment(event)) return null;
    const wasMessage = type === EventType.RoomMessage || type === EventType.RoomMessageEncrypted;
    return wasMessage ? { ...base, body: { kind: "deleted" } } : null;
  }
  if (event.isState() || isAmendment(event)) return null;
  if (event.isDecryptionFailure()) {
    const waiting = keyMayArrive && lacksKey(event);
    return { ...base, body: { kind: "undecryptable", waiting } };
  }
  // Not decrypted yet (it is being decrypted): shown once it is.
  if (type === EventType.RoomMessageEncrypted) return null;
  if (type !== EventType.RoomMessage) return null;
  // The original's relation (an edit cannot turn a message into a reply).
  const original = event.getOriginalContent();
  const inReplyTo = (original["m.relates_to"] as { "m.in_reply_to"?: { event_id?: unknown } } | undefined)?.[
    "m.in_reply_to"
  ]?.event_id;
  const replyTo = typeof inReplyTo === "string" ? inReplyTo : undefined;
  const replacement = event.replacingEvent();
  const edited = replacement !== null && !replacement.isRedacted() && replacement.getSender() === event.getSender();
  // The edit's `m.new_content` (getContent) carries no fallback; only the original reply may.
  const body = bodyOf(edited ? event.getContent() : original, replyTo !== undefined && !edited);
  if (!body) return null;
  return { ...base, body, edited, replyTo };
}

/** A line of text for a message (a quote, the composer's "Replying to"). */
export function summary(message: Message | null): string {
  if (!message) return "an earlier message";
  switch (message.body.kind) {
    case "text":
      return message.body.text.replace(/\s+/g, " ").trim();
    case "image":
      return `Picture: ${message.body.name}`;
    case "file":
      return `File: ${message.body.name}`;
    case "deleted":
      return DELETED_TEXT;
    case "undecryptable":
      return message.body.waiting ? WAITING_TEXT : CANNOT_READ_TEXT;
  }
}

/** Whether a message can be edited by its sender here (text only, already on the server). */
export function canEdit(message: Message, me: string): boolean {
  return message.sender === me && message.body.kind === "text" && onServer(message.id);
}
