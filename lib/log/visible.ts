/**
 * The one sanitiser between the network and a terminal (SECURITY.md, "Terminal safety"),
 * shared by the CLI (`cli/terminal.ts`) and the library's own debug log (`NODE_DEBUG`).
 *
 * Every string a router or another LAN host chose (names, SSDP headers, mapping descriptions,
 * a router's error words, whole HTTP heads and bodies) is shown through `shown()`, which caps
 * its length and turns control characters (C0, DEL, C1), bidirectional overrides and isolates
 * and line separators into visible escapes (`\x1b`, `\n`, `\u202e`), so that it cannot move the
 * cursor, clear the screen, retitle the window, start a new line or reorder text.
 */

/** What a terminal acts on or reorders instead of showing. */
export const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

/** The visible escape of one unsafe character. */
export function escaped(c: string): string {
  const code = c.codePointAt(0) ?? 0
  return NAMED[c] ?? (code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`)
}

/** A network-provided string, visible and at most `maxChars` characters (then "…"). */
export function shown(text: string, maxChars = 120): string {
  const chars = [...String(text)]
  const capped = chars.length > maxChars ? `${chars.slice(0, maxChars).join('')}…` : String(text)
  return capped.replace(UNSAFE, escaped)
}
