/**
 * Matrix uses unpadded base64. Decoders accept padded and unpadded input
 * (the spec says they SHOULD); we also accept the URL-safe alphabet.
 * Unlike Buffer.from(s, 'base64'), decoding refuses characters outside the
 * alphabet instead of silently skipping them.
 */
const B64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64').replace(/=+$/, '');
}

export function encodeBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** Decodes standard or URL-safe base64, padded or not; undefined when malformed. */
export function decodeBase64(s: string): Buffer | undefined {
  if (!B64.test(s)) return undefined;
  const unpadded = s.replace(/=+$/, '');
  if (unpadded.length % 4 === 1) return undefined;
  return Buffer.from(unpadded, 'base64');
}
