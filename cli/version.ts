/** This package's version, read from the package.json above the running CLI. */
import fs from 'node:fs'
import path from 'node:path'

export function packageVersion(): string {
  const start = path.dirname(fs.realpathSync(process.argv[1] ?? '.'))
  for (let dir = start; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'upnp-native' && pkg.version) return pkg.version
    } catch {
      // keep looking upwards
    }
    if (path.dirname(dir) === dir) return 'unknown'
  }
}
