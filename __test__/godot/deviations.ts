// The one list of deliberate differences from Godot that the differential suite accepts.
// Each entry names the scenarios and rows where it shows, the reason, and whether it is a
// place where Godot 3.2.3 (the engine run here) and Godot 4 differ and we follow Godot 4.
// Any other difference fails the suite; an entry that no longer shows fails it too.

export interface Deviation {
  id: string
  /** One line: what differs. */
  what: string
  /** Why upnp-native does it this way. */
  why: string
  /** Godot 3.2.3 differs from Godot 4 here, and upnp-native follows Godot 4. */
  godot4?: boolean
  /** Scenario id and row label (exact text, or a pattern). */
  where: Array<{ scenario: string | RegExp; row: string | RegExp }>
  /** When given, the Godot / upnp-native value must match too. */
  godot?: string | RegExp
  ours?: string | RegExp
}

export const DEVIATIONS: Deviation[] = []
