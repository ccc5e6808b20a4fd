/** This package's package.json, found upwards from the running CLI: the version for
 *  --version and reports, and the issue tracker that "please report it" names. */
import fs from 'node:fs'
import path from 'node:path'

export function ownPackage(): { version: string; bugs: string } {
  const start = path.dirname(fs.realpathSync(process.argv[1] ?? '.'))
  for (let dir = start; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string
        version?: string
        bugs?: { url?: string }
      }
      if (pkg.name === 'upnp-native' && pkg.version) return { version: pkg.version, bugs: pkg.bugs?.url ?? '' }
    } catch {
      // keep looking upwards
    }
    if (path.dirname(dir) === dir) return { version: 'unknown', bugs: '' }
  }
}

export function packageVersion(): string {
  return ownPackage().version
}
