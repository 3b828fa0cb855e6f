// Media: downloads through the homeserver's authenticated media endpoints
// (`/_matrix/client/v1/media/…`, which need the access token, so an `<img
// src>` cannot point at them: each is fetched as a blob and shown through an
// object URL), decrypted when it is an encrypted attachment. The object URLs
// are cached, at most MAX_ENTRIES of them (least recently used out first, its
// URL revoked), and all revoked when the chat is destroyed.

import type { MatrixClient } from "matrix-js-sdk";
import { decryptAttachment, type EncryptedFile } from "./attachment-crypto.js";

/** Where a piece of media is: a plain `mxc://` URL, or an encrypted file (whose `url` is one). */
export type MediaSource = { mxc: string } | { file: EncryptedFile };

export interface Thumbnail {
  width: number;
  height: number;
  method: "crop" | "scale";
}

/** Cached object URLs (pictures and avatars); more would keep every picture ever shown in memory. */
const MAX_ENTRIES = 200;
/**
 * An evicted URL is revoked this much later, not at once: the `<img>` it was handed to may
 * still be loading it (a loaded picture stays on screen after its URL is revoked).
 */
const REVOKE_GRACE_MS = 10_000;

export class Media {
  /** Insertion order is use order: the first entry is the least recently used. */
  private cache = new Map<string, Promise<string>>();
  private destroyed = false;

  constructor(private readonly client: MatrixClient) {}

  /** The media as an object URL, decrypted when encrypted; a thumbnail when asked for and possible. */
  objectUrl(source: MediaSource, mimetype?: string, thumbnail?: Thumbnail): Promise<string> {
    // An encrypted file cannot be thumbnailed by the server: it is always the whole file.
    const size = "mxc" in source && thumbnail ? `#${thumbnail.width}x${thumbnail.height}${thumbnail.method}` : "";
    const key = urlOf(source) + size;
    const cached = this.cache.get(key);
    if (cached) {
      this.cache.delete(key);
      this.cache.set(key, cached);
      return cached;
    }
    const url = this.load(source, mimetype, thumbnail).then((blob) => this.create(blob));
    // A failure is not cached: the next render may try again.
    url.catch(() => {
      if (this.cache.get(key) === url) this.cache.delete(key);
    });
    this.remember(key, url);
    return url;
  }

  /** Remembers media this page has itself (a file just uploaded), so it is not downloaded again. */
  seed(source: MediaSource, blob: Blob): void {
    if (this.destroyed) return;
    this.remember(urlOf(source), Promise.resolve(this.create(blob)));
  }

  /** The media as a blob, decrypted (for saving a file); not cached. */
  async blob(source: MediaSource, mimetype?: string): Promise<Blob> {
    return this.load(source, mimetype);
  }

  /** Revokes every URL; loads still running revoke theirs as soon as they finish. */
  destroy(): void {
    this.destroyed = true;
    for (const url of this.cache.values()) url.then((u) => URL.revokeObjectURL(u), () => undefined);
    this.cache.clear();
  }

  private remember(key: string, url: Promise<string>): void {
    const previous = this.cache.get(key);
    this.cache.delete(key);
    if (previous && previous !== url) this.revokeLater(previous);
    this.cache.set(key, url);
    for (const [oldest, evicted] of this.cache) {
      if (this.cache.size <= MAX_ENTRIES) break;
      this.cache.delete(oldest);
      this.revokeLater(evicted);
    }
  }

  private revokeLater(url: Promise<string>): void {
    url.then(
      (u) => setTimeout(() => URL.revokeObjectURL(u), REVOKE_GRACE_MS),
      () => undefined,
    );
  }

  /** An object URL for the blob; after `destroy` (a load that finished late) it is revoked at once. */
  private create(blob: Blob): string {
    const url = URL.createObjectURL(blob);
    if (this.destroyed) {
      URL.revokeObjectURL(url);
      throw new Error("the chat was closed");
    }
    return url;
  }

  private async load(source: MediaSource, mimetype?: string, thumbnail?: Thumbnail): Promise<Blob> {
    const mxc = urlOf(source);
    const http = thumbnail && "mxc" in source
      ? this.client.mxcUrlToHttp(mxc, thumbnail.width, thumbnail.height, thumbnail.method, false, true, true)
      : this.client.mxcUrlToHttp(mxc, undefined, undefined, undefined, false, true, true);
    if (!http) throw new Error("not a media URL");
    const response = await fetch(http, { headers: { Authorization: `Bearer ${this.client.getAccessToken() ?? ""}` } });
    if (!response.ok) throw new Error(`the homeserver answered ${response.status}`);
    const data = await response.arrayBuffer();
    if ("file" in source) {
      const plain = await decryptAttachment(data, source.file);
      return new Blob([plain], { type: mimetype ?? "application/octet-stream" });
    }
    return new Blob([data], { type: response.headers.get("content-type") ?? mimetype ?? "application/octet-stream" });
  }
}

function urlOf(source: MediaSource): string {
  return "mxc" in source ? source.mxc : source.file.url;
}
