/** Longest close reason kept or reported, in UTF-8 bytes (as in a WebSocket close frame). */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * Whether a client may close with this code (docs/protocol.md §5): 1000, 1001; the codes a peer
 * uses to report what it found wrong (1002, 1003, 1007–1011); 3000–3999 (registered for
 * libraries); 4100–4999 (applications). Not: 1004–1006 and 1015 (never sent), 1012–1014 and
 * 4000–4099 (the server's own decisions, e.g. 4006 slow consumer), anything else.
 */
export function isPeerCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 1000 && code <= 1011) return code < 1004 || code > 1006;
  return (code >= 3000 && code <= 3999) || (code >= 4100 && code <= 4999);
}

/** `reason` cut to at most `max` bytes of UTF-8, never inside a character. */
export function cutReason(reason: string, max: number = MAX_CLOSE_REASON_BYTES): string {
  // A UTF-16 unit is at most 3 bytes of UTF-8.
  if (reason.length * 3 <= max) return reason;
  let bytes = 0;
  for (let i = 0; i < reason.length; i++) {
    const c = reason.charCodeAt(i);
    let n = 3;
    let units = 1;
    if (c < 0x80) n = 1;
    else if (c < 0x800) n = 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = reason.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n = 4;
        units = 2;
      }
    }
    if (bytes + n > max) return reason.slice(0, i);
    bytes += n;
    i += units - 1;
  }
  return reason;
}
