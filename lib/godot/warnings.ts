/** What the Godot classes do where Godot prints an engine error and carries on. */

/** A process warning of type `UPNPWarning` with `code` (Node's equivalent of Godot's printed
 *  error): an ignored device-list call, a refused field value. Never a throw. */
export function warnIgnored(code: string, message: string): void {
  process.emitWarning(message, { type: 'UPNPWarning', code })
}
