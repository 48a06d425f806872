import { describe, expect, it } from 'vitest';
import { unwrapAes256Kw, wrapAes256Kw } from './aes-kw.ts';

describe('AES-256 key wrap (RFC 3394)', () => {
  // RFC 3394 section 4.6: wrap 256 bits of key data with a 256-bit KEK.
  const kek = Buffer.from('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F', 'hex');
  const key = Buffer.from('00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F', 'hex');
  const expected = '28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21';

  it('matches the RFC test vector', () => {
    expect(wrapAes256Kw(kek, key).toString('hex').toUpperCase()).toBe(expected);
  });

  it('unwraps to the original key', () => {
    expect(unwrapAes256Kw(kek, Buffer.from(expected, 'hex'))?.equals(key)).toBe(true);
  });

  it('detects a wrong KEK and an altered wrap', () => {
    const other = Buffer.from(kek);
    other[0] = (other[0] ?? 0) ^ 1;
    expect(unwrapAes256Kw(other, Buffer.from(expected, 'hex'))).toBeUndefined();
    for (let i = 0; i < 40; i++) {
      const altered = Buffer.from(expected, 'hex');
      altered[i] = (altered[i] ?? 0) ^ 0x80;
      expect(unwrapAes256Kw(kek, altered)).toBeUndefined();
    }
  });
});
