/**
 * Process exit hooks shared by every live PortMapper (one holding mappings, adding some, or
 * with leftovers to delete): on SIGINT, SIGTERM, SIGHUP (a closed terminal; on Windows also a
 * closed console) and SIGBREAK (Windows' Ctrl+Break), or `beforeExit`, each one deletes its
 * mappings, awaiting or undoing the adds still in flight (bounded in time), then the process
 * ends as it would have: the signal is raised again when no one else listens for it. In an
 * Electron main process, where neither fits, the quit is held on `app`'s `will-quit` instead
 * (electron-quit.ts). The module's state (which mappers are live, whether the hooks are
 * installed) lives only here.
 *
 * A delete cannot be awaited once the process is exiting: `process.exit()` (the common
 * `process.on('SIGINT', () => process.exit(0))`, or an uncaught exception) ends it before any
 * reply comes. The `exit` hook then warns, once, naming what stays on the router; the journal
 * lets the next start delete it.
 */
import fs from 'node:fs'
import os from 'node:os'
import { electronMainApp, holdQuitFor } from './electron-quit.ts'

/** What the hooks need of a mapper. */
export interface ExitCleanup {
  readonly cleanupOnExit: boolean
  /** Deletes the mapper's mappings; bounded in time, never throws. */
  closeForExit(): Promise<void>
  /** What is not deleted yet ("UDP 7777", "1 map() in flight"); empty when nothing. */
  outstanding(): string[]
}

/** The signals that end a process by default and that a terminal or service manager sends. */
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', ...(process.platform === 'win32' ? (['SIGBREAK'] as const) : [])]

const live = new Set<ExitCleanup>()
let hooked = false
let exiting = false
let warned = false
/** Removes the Electron hook, when that is the one installed. */
let unhookElectron: (() => void) | null = null

function cleanupAll(): Promise<void> {
  return Promise.all([...live].map((m) => m.closeForExit())).then(() => undefined)
}

/** Ends the process by `signal` as the default action would. Windows cannot raise SIGHUP or
 *  SIGBREAK on itself: there the exit code says which signal it was (128 + its number). */
function raise(signal: NodeJS.Signals): void {
  try {
    process.kill(process.pid, signal)
  } catch {
    process.exit(128 + (os.constants.signals[signal] ?? 0))
  }
}

function onSignal(signal: NodeJS.Signals): void {
  if (exiting) return
  exiting = true
  // Were we the only listener? Then Node's default (exit by this signal) must still happen.
  const othersListen = process.listenerCount(signal) > 1
  void cleanupAll().finally(() => {
    removeHooks()
    exiting = false
    if (!othersListen) raise(signal)
  })
}

function onBeforeExit(): void {
  // The loop ran dry with mappings held (timers are unref'd): delete them, then let the
  // process end as it was about to. The work below keeps the loop alive until done.
  if (live.size && !exiting) {
    exiting = true
    void cleanupAll().finally(() => {
      exiting = false
    })
  }
}

/** The process is ending now, synchronously: nothing can be deleted any more. Says so, once. */
function onExit(): void {
  const left = [...live].flatMap((m) => m.outstanding())
  if (!left.length || warned) return
  warned = true
  const text =
    `(node:${process.pid}) UPNPWarning: upnp-native: the process exited with port mappings still on the router ` +
    `(${left.join(', ')}): process.exit() ran before PortMapper could delete them, as ` +
    "process.on('SIGINT', () => process.exit(0)) does. Await mapper.close() before process.exit(), " +
    'or let the signal end the process; with a journal the next start deletes them.\n'
  try {
    fs.writeSync(2, text) // synchronous: the process ends right after this hook
  } catch {
    // stderr closed: nothing more to do
  }
}

function addHooks(): void {
  if (hooked) return
  hooked = true
  const app = electronMainApp()
  if (app) {
    unhookElectron = holdQuitFor(app, cleanupAll)
    return
  }
  for (const signal of SIGNALS) process.on(signal, onSignal)
  process.on('beforeExit', onBeforeExit)
  process.on('exit', onExit)
}

function removeHooks(): void {
  if (!hooked) return
  hooked = false
  if (unhookElectron) {
    unhookElectron()
    unhookElectron = null
    return
  }
  for (const signal of SIGNALS) process.removeListener(signal, onSignal)
  process.removeListener('beforeExit', onBeforeExit)
  process.removeListener('exit', onExit)
}

/** The mapper holds (or is adding) mappings: clean them up if the process exits. */
export function installExitHooks(mapper: ExitCleanup): void {
  if (!mapper.cleanupOnExit) return
  live.add(mapper)
  addHooks()
}

/** The mapper holds nothing any more (or was closed). */
export function uninstallExitHooks(mapper: ExitCleanup): void {
  live.delete(mapper)
  if (live.size === 0) removeHooks()
}
