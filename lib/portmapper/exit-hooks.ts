/**
 * Process exit hooks shared by every live PortMapper: on SIGINT, SIGTERM or `beforeExit`, each
 * one deletes its mappings (bounded in time), then the process ends as it would have. In an
 * Electron main process, where neither fits, the quit is held on `app`'s `will-quit` instead
 * (electron-quit.ts). The module's state (which mappers are live, whether the hooks are
 * installed) lives only here.
 */
import { electronMainApp, holdQuitFor } from './electron-quit.ts'

/** What the hooks need of a mapper. */
export interface ExitCleanup {
  readonly cleanupOnExit: boolean
  /** Deletes the mapper's mappings; bounded in time, never throws. */
  closeForExit(): Promise<void>
}

const live = new Set<ExitCleanup>()
let hooked = false
let exiting = false
/** Removes the Electron hook, when that is the one installed. */
let unhookElectron: (() => void) | null = null

function cleanupAll(): Promise<void> {
  return Promise.all([...live].map((m) => m.closeForExit())).then(() => undefined)
}

function onSignal(signal: NodeJS.Signals): void {
  if (exiting) return
  exiting = true
  // Were we the only listener? Then Node's default (exit by this signal) must still happen.
  const othersListen = process.listenerCount(signal) > 1
  void cleanupAll().finally(() => {
    removeHooks()
    exiting = false
    if (!othersListen) process.kill(process.pid, signal)
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

function addHooks(): void {
  if (hooked) return
  hooked = true
  const app = electronMainApp()
  if (app) {
    unhookElectron = holdQuitFor(app, cleanupAll)
    return
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.on('beforeExit', onBeforeExit)
}

function removeHooks(): void {
  if (!hooked) return
  hooked = false
  if (unhookElectron) {
    unhookElectron()
    unhookElectron = null
    return
  }
  process.removeListener('SIGINT', onSignal)
  process.removeListener('SIGTERM', onSignal)
  process.removeListener('beforeExit', onBeforeExit)
}

/** The mapper holds mappings: clean them up if the process exits. */
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
