/**
 * The one sanitiser between the network and a terminal (SECURITY.md, "Terminal safety").
 *
 * Every string a router or another LAN host chose (names, SSDP SERVER headers, mapping
 * descriptions, a router's error words) is shown through `shown()`, which also caps its
 * length; and `Output` passes every human line through `terminalSafe()`, so that a path
 * that forgot still cannot move the cursor, clear the screen, retitle the window, start a
 * new line or reorder text. Control characters (C0, DEL, C1), bidirectional overrides and
 * isolates and line separators come out as visible escapes (`\x1b`, `\n`, `\u202e`); the
 * CLI's own colour codes are the only escape sequences that reach the terminal.
 * `--json` never comes here: JSON.stringify escapes control characters itself, and the
 * documents keep the exact strings.
 */

/** What a terminal acts on or reorders instead of showing. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu
/** The CLI's own styling (output.ts styleFor: bold, dim, four colours and their resets),
 *  the only sequences let through: a router's own SGR text is escaped like the rest. */
const OWN_STYLE = /(\x1b\[(?:1|2|22|31|32|33|36|39)m)/
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

function escaped(c: string): string {
  const code = c.codePointAt(0) ?? 0
  return NAMED[c] ?? (code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`)
}

/** A network-provided string, visible and at most `maxChars` characters (then "…"). */
export function shown(text: string, maxChars = 120): string {
  const chars = [...String(text)]
  const capped = chars.length > maxChars ? `${chars.slice(0, maxChars).join('')}…` : String(text)
  return capped.replace(UNSAFE, escaped)
}

/** One line of human output: everything `shown` escapes is escaped (newlines included),
 *  except the CLI's own colour sequences. Not capped: the line is ours. */
export function terminalSafe(line: string): string {
  return line
    .split(OWN_STYLE)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(UNSAFE, escaped)))
    .join('')
}
