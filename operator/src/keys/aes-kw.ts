// AES-256 key wrap (RFC 3394) through Node's OpenSSL binding. Deterministic, so it stays in
// the pure layer: the same KEK and key always give the same 40 bytes, and unwrapping checks
// the RFC's integrity value, so a wrong KEK or an altered wrap is detected, never mis-decoded.
import { createCipheriv, createDecipheriv } from 'node:crypto';

export const KEK_BYTES = 32;
export const DATA_KEY_BYTES = 32;
export const WRAPPED_KEY_BYTES = DATA_KEY_BYTES + 8;

// RFC 3394 section 2.2.3.1 default initial value.
const DEFAULT_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');

export function wrapAes256Kw(kek: Uint8Array, key: Uint8Array): Buffer {
  const cipher = createCipheriv('id-aes256-wrap', kek, DEFAULT_IV);
  return Buffer.concat([cipher.update(key), cipher.final()]);
}

/** The unwrapped key, or undefined when the integrity check fails (wrong KEK or altered wrap). */
export function unwrapAes256Kw(kek: Uint8Array, wrapped: Uint8Array): Buffer | undefined {
  try {
    const decipher = createDecipheriv('id-aes256-wrap', kek, DEFAULT_IV);
    return Buffer.concat([decipher.update(wrapped), decipher.final()]);
  } catch {
    return undefined;
  }
}
