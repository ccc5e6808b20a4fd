/**
 * How the user started this command, for the commands we tell them to run next ("Delete
 * with: ..."): through npx (or an npm script), `upnp-native` is not on their shell's PATH,
 * so the hint must say `npx upnp-native` to work when pasted.
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
