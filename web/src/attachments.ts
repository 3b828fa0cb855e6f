// Attachments: the attach button and its file picker. A file larger than the
// homeserver's upload limit (`m.upload.size` of the media config) is refused
// with a message before anything is uploaded; so is every file while the
// limit cannot be read (nothing goes up unchecked). In an encrypted room the
// file (and the picture's thumbnail) is encrypted before it leaves the page.
// Pictures go out as `m.image` with their size (`info.w`/`h`), with a
// thumbnail when they are large; other files as `m.file`. Files are sent as
// they are: a photo's EXIF metadata (camera, maybe its location) goes with it
// (the README says so): re-encoding would lose quality, animation and colour
// profiles, and the picture is end-to-end encrypted in an encrypted room.

import { MsgType } from "matrix-js-sdk";
import type { EncryptedFile, ImageInfo, RoomMessageEventContent } from "matrix-js-sdk/lib/types.js";
import type { ChatContext } from "./context.js";
import { button, el, errorText, formatSize } from "./dom.js";
import { encryptAttachment } from "./attachment-crypto.js";

/** Pictures larger than this get a thumbnail of this size. */
const THUMB_W = 800;
const THUMB_H = 600;
/** Upload progress is told in steps of this share (each change is read out by screen readers). */
const PROGRESS_STEP = 0.1;

interface Uploaded {
  /** Unencrypted room: the `mxc://` URL. */
  url?: string;
  /** Encrypted room: the encrypted file. */
  file?: EncryptedFile;
}

export class Attachments {
  readonly button: HTMLButtonElement;
  readonly input: HTMLInputElement;
  private limit: Promise<number | null> | undefined;

  constructor(private readonly ctx: ChatContext) {
    this.input = el("input", "ms-attach-input");
    this.input.type = "file";
    this.input.multiple = true;
    this.input.hidden = true;
    this.input.tabIndex = -1;
    this.button = button("ms-attach", "", () => this.input.click(), { label: "Attach a file" });
    this.button.append(paperclip());
    this.input.addEventListener("change", () => {
      const files = Array.from(this.input.files ?? []);
      this.input.value = ""; // the same file can be picked again
      const room = this.ctx.room();
      if (room) void this.sendAll(room.roomId, files);
    });
  }

  /**
   * The homeserver's upload limit in bytes (null: it has none), asked once; a failed request is
   * tried once more, then rejects (and the next call asks again).
   */
  uploadLimit(): Promise<number | null> {
    const ask = () => this.ctx.client.getMediaConfig(true);
    this.limit ??= ask()
      .catch(ask)
      .then((config) => {
        const size = config["m.upload.size"];
        return typeof size === "number" && size > 0 ? size : null;
      });
    this.limit.catch(() => (this.limit = undefined));
    return this.limit;
  }

  /** Keeps the attach button from being used (the chat stopped). */
  setDisabled(disabled: boolean): void {
    this.button.disabled = disabled;
    this.input.disabled = disabled;
  }

  private async sendAll(roomId: string, files: File[]): Promise<void> {
    let limit: number | null;
    try {
      limit = await this.uploadLimit();
    } catch (e) {
      this.ctx.notice(`Nothing was sent: could not ask the server how large a file it accepts (${errorText(e)}). Try again.`, "error");
      return;
    }
    // Every file is checked before any is uploaded.
    const tooLarge = limit === null ? [] : files.filter((f) => f.size > limit);
    if (tooLarge.length > 0 && limit !== null) {
      const names = tooLarge.map((f) => f.name).join(", ");
      const verb = tooLarge.length === 1 ? "is" : "are";
      this.ctx.notice(`${names} ${verb} larger than the ${formatSize(limit)} this server accepts.`, "error");
      return;
    }
    for (const file of files) {
      try {
        await this.send(roomId, file);
      } catch (e) {
        this.ctx.notice(`${file.name} could not be sent: ${errorText(e)}`, "error");
        return;
      }
    }
    this.ctx.notice("");
  }

  private async upload(blob: Blob, encrypted: boolean, name: string, progress?: (share: number) => void): Promise<Uploaded> {
    const client = this.ctx.client;
    if (!encrypted) {
      const { content_uri } = await client.uploadContent(blob, {
        name,
        type: blob.type || "application/octet-stream",
        progressHandler: ({ loaded, total }) => progress?.(total ? loaded / total : 0),
      });
      return { url: content_uri };
    }
    const { data, file } = await encryptAttachment(await blob.arrayBuffer());
    // No name and no type: the homeserver learns nothing of the file but its size.
    const { content_uri } = await client.uploadContent(new Blob([data], { type: "application/octet-stream" }), {
      includeFilename: false,
      type: "application/octet-stream",
      progressHandler: ({ loaded, total }) => progress?.(total ? loaded / total : 0),
    });
    return { file: { ...file, url: content_uri } };
  }

  private async send(roomId: string, file: File): Promise<void> {
    const client = this.ctx.client;
    const encrypted = (await client.getCrypto()?.isEncryptionEnabledInRoom(roomId)) ?? false;
    const mimetype = file.type || "application/octet-stream";
    let shown = -1;
    const progress = (share: number) => {
      const step = Math.floor(Math.min(1, share) / PROGRESS_STEP);
      if (step === shown) return;
      shown = step;
      this.ctx.notice(`Sending ${file.name}… ${Math.round(step * PROGRESS_STEP * 100)}%`);
    };
    progress(0);
    const picture = mimetype.startsWith("image/") ? await measure(file) : null;
    let content: RoomMessageEventContent;
    if (picture) {
      const info: ImageInfo = { mimetype, size: file.size, w: picture.width, h: picture.height };
      if (picture.width > THUMB_W || picture.height > THUMB_H) {
        const thumb = await thumbnail(picture, mimetype);
        if (thumb) {
          const up = await this.upload(thumb.blob, encrypted, `thumbnail-${file.name}`);
          info.thumbnail_info = { mimetype: thumb.blob.type, size: thumb.blob.size, w: thumb.width, h: thumb.height };
          if (up.file) info.thumbnail_file = up.file;
          else info.thumbnail_url = up.url;
          this.ctx.media.seed(up.file ? { file: up.file } : { mxc: up.url ?? "" }, thumb.blob);
        }
      }
      picture.close();
      const up = await this.upload(file, encrypted, file.name, progress);
      this.ctx.media.seed(up.file ? { file: up.file } : { mxc: up.url ?? "" }, file);
      content = { msgtype: MsgType.Image, body: file.name, filename: file.name, info, ...up };
    } else {
      const up = await this.upload(file, encrypted, file.name, progress);
      content = { msgtype: MsgType.File, body: file.name, filename: file.name, info: { mimetype, size: file.size }, ...up };
    }
    await client.sendMessage(roomId, content);
  }
}

/** A paperclip icon (an emoji would depend on the system's fonts). */
function paperclip(): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "18");
  svg.setAttribute("height", "18");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2");
  svg.setAttribute("stroke-linecap", "round");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M21 11.5l-8.5 8.5a5.5 5.5 0 0 1-7.8-7.8l9-9a3.7 3.7 0 0 1 5.2 5.2l-9 9a1.8 1.8 0 0 1-2.6-2.6l8.3-8.3");
  svg.append(path);
  return svg;
}

/** The picture's size (null: the browser cannot read it, so it goes as a file). */
async function measure(file: File): Promise<ImageBitmap | null> {
  try {
    return await createImageBitmap(file);
  } catch {
    return null;
  }
}

async function thumbnail(
  picture: ImageBitmap,
  mimetype: string,
): Promise<{ blob: Blob; width: number; height: number } | null> {
  const scale = Math.min(THUMB_W / picture.width, THUMB_H / picture.height);
  const width = Math.max(1, Math.round(picture.width * scale));
  const height = Math.max(1, Math.round(picture.height * scale));
  try {
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext("2d");
    if (!context) return null;
    context.drawImage(picture, 0, 0, width, height);
    // PNG keeps transparency; anything else becomes a JPEG.
    const type = mimetype === "image/png" || mimetype === "image/gif" ? "image/png" : "image/jpeg";
    return { blob: await canvas.convertToBlob({ type, quality: 0.85 }), width, height };
  } catch {
    return null; // no thumbnail: the picture alone
  }
}
