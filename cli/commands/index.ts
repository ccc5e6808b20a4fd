/** The commands, in the order the main help lists them: one file each, one line here. */
import type { Command } from '../command.ts'
import { checkCommand } from './check.ts'
import { doctorCommand } from './doctor/index.ts'
import { ipCommand } from './ip.ts'
import { listCommand } from './list.ts'
import { mapCommand } from './map/index.ts'
import { pruneCommand } from './prune.ts'
import { statusCommand } from './status.ts'
import { unmapCommand } from './unmap.ts'

export const COMMANDS: readonly Command[] = [
  statusCommand,
  mapCommand,
  unmapCommand,
  listCommand,
  pruneCommand,
  ipCommand,
  doctorCommand,
  checkCommand,
]
