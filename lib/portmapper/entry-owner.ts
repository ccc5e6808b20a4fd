/**
 * Who owns a router entry: which app made it (the description PortMapper sends by default
 * names the app), and whether it forwards to this machine. Two apps on one machine can then
 * tell their entries apart, and `prune()` (and `upnp-native prune`) can clean up one app's
 * leftovers without touching another app's or another machine's.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { MAPPING_DESCRIPTION } from '../defaults.ts'

/** A name longer than this is cut: router pages show descriptions in a narrow column. */
const MAX_NAME_CHARS = 64
/** Folders walked up from the app's entry script at most. */
const MAX_LEVELS = 32

let cached: string | null = null

/**
 * The app's name, the default description of PortMapper's mappings: the `name` of the nearest
 * `package.json` above the entry script (`process.argv[1]`, else the working folder), else the
 * process title; control characters removed, at most 64 characters, "upnp-native" when
 * nothing is left. Worked out once per process.
 */
export function appName(): string {
  cached ??= clean(packageName(entryFolder()) ?? process.title) || MAPPING_DESCRIPTION
  return cached
}

function entryFolder(): string {
  const entry = process.argv[1]
  if (entry) {
    try {
      return path.dirname(fs.realpathSync(entry))
    } catch {
      // a script name that is not a file (a REPL, `node -e`): the working folder instead
    }
  }
  return process.cwd()
}

/** The `name` of the nearest package.json at or above `folder` that has one. */
export function packageName(folder: string): string | null {
  let at = folder
  for (let level = 0; level < MAX_LEVELS; level++) {
    const name = nameIn(path.join(at, 'package.json'))
    if (name) return name
    const up = path.dirname(at)
    if (up === at) break
    at = up
  }
  return null
}

function nameIn(file: string): string | null {
  try {
    const doc: unknown = JSON.parse(fs.readFileSync(file, 'utf8'))
    const name = typeof doc === 'object' && doc !== null ? (doc as { name?: unknown }).name : undefined
    return typeof name === 'string' && name.trim() ? name : null
  } catch {
    return null // none here, unreadable or not JSON: look further up
  }
}

function clean(name: string): string {
  return [...name.replace(/\p{Cc}/gu, '').trim()].slice(0, MAX_NAME_CHARS).join('')
}

/** Whether `address` is one of this machine's addresses now. */
export function isOwnAddress(address: string): boolean {
  return Object.values(os.networkInterfaces()).some((list) => list?.some((a) => a.address === address))
}
