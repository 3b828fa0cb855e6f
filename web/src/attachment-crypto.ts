// Encrypted attachments as the Matrix spec's "Sending encrypted attachments"
// describes: AES-CTR-256 with a 64-bit counter starting at zero, the key as
// a JWK, and the SHA-256 of the ciphertext, checked before decrypting.

import { decodeBase64, encodeUnpaddedBase64, encodeUnpaddedBase64Url } from "matrix-js-sdk";
import type { EncryptedFile } from "matrix-js-sdk/lib/types.js";

export type { EncryptedFile };

function base64ToBytes(base64: string): Uint8Array<ArrayBuffer> {
  return decodeBase64(base64.replace(/-/g, "+").replace(/_/g, "/"));
}

/** Encrypts an attachment for an encrypted room; upload `data` and put `{ url, ...file }` in the event. */
export async function encryptAttachment(
  plain: ArrayBuffer,
): Promise<{ data: ArrayBuffer; file: Omit<EncryptedFile, "url"> }> {
  const keyBytes = crypto.getRandomValues(new Uint8Array(32));
  // 8 random bytes, then the 64-bit block counter, which starts at zero.
  const iv = new Uint8Array(16);
  crypto.getRandomValues(iv.subarray(0, 8));
  const key = await crypto.subtle.importKey("raw", keyBytes, { name: "AES-CTR" }, false, ["encrypt"]);
  const data = await crypto.subtle.encrypt({ name: "AES-CTR", counter: iv, length: 64 }, key, plain);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return {
    data,
    file: {
      key: { alg: "A256CTR", key_ops: ["encrypt", "decrypt"], kty: "oct", k: encodeUnpaddedBase64Url(keyBytes), ext: true },
      iv: encodeUnpaddedBase64(iv),
      hashes: { sha256: encodeUnpaddedBase64(hash) },
      v: "v2",
    },
  };
}

/** Decrypts a downloaded attachment; rejects when its hash or key is not what the event says. */
export async function decryptAttachment(data: ArrayBuffer, file: EncryptedFile): Promise<ArrayBuffer> {
  if (file.v !== "v2" && file.v !== undefined) throw new Error(`unsupported encrypted file version ${file.v}`);
  const expected = file.hashes?.["sha256"];
  if (!expected) throw new Error("the attachment has no SHA-256 hash");
  const actual = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  if (encodeUnpaddedBase64(actual) !== expected.replace(/=+$/, "")) {
    throw new Error("the attachment does not match its hash");
  }
  if (file.key?.alg !== "A256CTR" || file.key.kty !== "oct") throw new Error("unsupported attachment key");
  // A256CTR is a 256-bit key: WebCrypto would also take a 128- or 192-bit one, which the spec does not allow.
  const keyBytes = base64ToBytes(file.key.k);
  if (keyBytes.length !== 32) throw new Error("the attachment's key is not 32 bytes");
  const key = await crypto.subtle.importKey("raw", keyBytes, { name: "AES-CTR" }, false, ["decrypt"]);
  const iv = base64ToBytes(file.iv);
  if (iv.length !== 16) throw new Error("the attachment's iv is not 16 bytes");
  return crypto.subtle.decrypt({ name: "AES-CTR", counter: iv, length: 64 }, key, data);
}
