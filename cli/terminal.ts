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
 * documents keep the exact strings. `shown()` itself lives in the library (`lib/log/visible.ts`),
 * whose debug log escapes the same way.
 */
import { escaped, shown, UNSAFE } from '../lib/log/visible.ts'

/** The CLI's own styling (output.ts styleFor: bold, dim, four colours and their resets),
 *  the only sequences let through: a router's own SGR text is escaped like the rest. */
const OWN_STYLE = /(\x1b\[(?:1|2|22|31|32|33|36|39)m)/

export { shown }

/** One line of human output: everything `shown` escapes is escaped (newlines included),
 *  except the CLI's own colour sequences. Not capped: the line is ours. */
export function terminalSafe(line: string): string {
  return line
    .split(OWN_STYLE)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(UNSAFE, escaped)))
    .join('')
}
