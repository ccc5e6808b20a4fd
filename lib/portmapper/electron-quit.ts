/**
 * Cleanup when an Electron app quits. In Electron's main process `process.on('beforeExit')`
 * never fires (the message loop, not the JavaScript event loop, decides when the process
 * ends: electron/electron#41119), and Electron turns SIGINT/SIGTERM into `app.quit()` itself;
 * a Node signal listener there would replace Electron's graceful quit. So in the main process
 * the cleanup runs on `app`'s `will-quit` instead: the first `will-quit` is held
 * (`event.preventDefault()`) until the deletes finish or the time budget runs out, then the
 * quit is started again with `app.quit()`, whose second `will-quit` is let through.
 *
 * Not covered (documented): `app.exit()` and `process.exit()` end the process without any
 * event; on Windows a system shutdown or log-off ends the app without `will-quit`.
 */

/** The part of Electron's `app` used here. */
export interface ElectronApp {
  on(event: 'will-quit', listener: (event: ElectronEvent) => void): unknown
  removeListener(event: 'will-quit', listener: (event: ElectronEvent) => void): unknown
  quit(): void
}

interface ElectronEvent {
  preventDefault(): void
  readonly defaultPrevented?: boolean
}

/** Electron's `app` when this runs in an Electron main process, else null. */
export function electronMainApp(): ElectronApp | null {
  if (!process.versions.electron || (process as { type?: string }).type !== 'browser') return null
  try {
    // Electron resolves 'electron' itself in its processes; in plain Node this is never reached.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const electron = require('electron') as { app?: Partial<ElectronApp> } | string
    const app = typeof electron === 'object' ? electron.app : undefined
    if (app && typeof app.on === 'function' && typeof app.quit === 'function' && typeof app.removeListener === 'function') {
      return app as ElectronApp
    }
  } catch {
    // No Electron after all: the plain Node hooks apply.
  }
  return null
}

/**
 * Holds `app`'s first `will-quit` until `cleanup()` settles (it must bound itself in time),
 * then quits again. Returns a function that removes the hook.
 */
export function holdQuitFor(app: ElectronApp, cleanup: () => Promise<void>): () => void {
  let state: 'idle' | 'cleaning' | 'done' = 'idle'
  const onWillQuit = (event: ElectronEvent): void => {
    if (state === 'done') return
    if (state === 'cleaning') {
      // Someone quit again while we clean: keep holding, our app.quit() follows.
      event.preventDefault()
      return
    }
    // A listener before us cancelled this quit: the app stays, and so do its mappings.
    if (event.defaultPrevented === true) return
    state = 'cleaning'
    event.preventDefault()
    void cleanup()
      .catch(() => undefined)
      .finally(() => {
        state = 'done'
        app.removeListener('will-quit', onWillQuit)
        app.quit()
      })
  }
  app.on('will-quit', onWillQuit)
  return () => {
    if (state === 'idle') app.removeListener('will-quit', onWillQuit)
  }
}
