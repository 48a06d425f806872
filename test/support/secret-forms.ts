// The text forms a secret takes when code prints it carelessly, for the tests that search the operator's
// outputs (status, Events, logs, metrics) for leaks. A search for one encoding only misses the others:
// a 32-byte key in base64url or unpadded base64 does not contain its padded base64, nor its hex.

export interface Form {
  /** The encoding, for failure messages: "base64url", "hex", ... */
  how: string;
  value: string;
}

/** Every printable form of secret bytes: base64 (padded and not), base64url, hex in either case. */
export function encodedForms(bytes: Uint8Array): Form[] {
  const buffer = Buffer.from(bytes);
  const base64 = buffer.toString('base64');
  const hex = buffer.toString('hex');
  return [
    { how: 'base64', value: base64 },
    { how: 'base64 unpadded', value: base64.replace(/=+$/, '') },
    { how: 'base64url', value: buffer.toString('base64url') },
    { how: 'hex', value: hex },
    { how: 'HEX', value: hex.toUpperCase() },
  ];
}

/** A secret and the forms to look for; `what` names it in a failure, never its value. */
export interface Needle {
  what: string;
  forms: Form[];
}

/** Secret bytes (a data key, a customer key), in every encoding. */
export const bytesNeedle = (what: string, bytes: Uint8Array): Needle => ({
  what,
  forms: encodedForms(bytes),
});

/** A secret held as text (a password, a stored base64 value): itself, and every encoding of its bytes. */
export const textNeedle = (what: string, text: string): Needle => ({
  what,
  forms: [{ how: 'as is', value: text }, ...encodedForms(Buffer.from(text, 'utf8'))],
});

/**
 * The needles found in a text, as "what (encoding)": never the value, so a failure does not print the
 * secret. Forms shorter than 12 characters are skipped: they would match by chance.
 */
export function leaksIn(text: string, needles: readonly Needle[]): string[] {
  const found: string[] = [];
  for (const { what, forms } of needles) {
    const hit = forms.find((form) => form.value.length >= 12 && text.includes(form.value));
    if (hit) found.push(`${what} (${hit.how})`);
  }
  return found;
}
