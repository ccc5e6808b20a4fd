/**
 * How the user started this command: for the commands we tell them to run next ("Delete
 * with: ..."), since through npx (or an npm script) `upnp-native` is not on their shell's
 * PATH and the hint must say `npx upnp-native` to work when pasted; and for what npm does to
 * signals (see `whenOrphaned`).
 */

/** True when npm started this process: `npx`/`npm exec` (npm_command "exec") or an npm
 *  script (npm_command "run-script", ...), whose environment npm marks. */
export function startedByNpm(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.npm_command)
}

/** The command to put in front of a subcommand in a hint: `upnp-native`, or `npx upnp-native`
 *  when npm started this one. */
export function runAs(env: NodeJS.ProcessEnv = process.env): string {
  return startedByNpm(env) ? 'npx upnp-native' : 'upnp-native'
}

/**
 * Calls `onOrphaned` once if this process loses its parent while npm started it. npm runs the
 * command through `sh -c`; a SIGTERM sent to npm alone (a process manager stopping it) is
 * forwarded to that shell, which dies of it, and never reaches this process, which would
 * then go on holding its mappings with no one to stop it. Polls the parent once a second
 * (unref'd); returns the function that stops watching.
 */
export function whenOrphaned(onOrphaned: () => void, env: NodeJS.ProcessEnv = process.env): () => void {
  if (!startedByNpm(env)) return () => undefined
  const parent = process.ppid
  const timer = setInterval(() => {
    if (process.ppid === parent) return
    clearInterval(timer)
    onOrphaned()
  }, 1000)
  timer.unref()
  return () => clearInterval(timer)
}
