/**
 * What routers say, explained: every UPnP error code of WANIPConnection (IGD:1/2), NAT-PMP
 * result code (RFC 6886 3.5) and PCP result code (RFC 6887 7.4) with its name, what it means
 * and what to do; `explainFailure()` turns any failure of the library into that. The CLI
 * prints these sentences; apps can show the same advice.
 */
import { UPNPResult, type UPNPErrorInfo } from './errors.ts'
import type { Via } from './types.ts'

/** How each protocol is called in text. */
export const VIA_NAME: Readonly<Record<Via, string>> = { upnp: 'UPnP', natpmp: 'NAT-PMP', pcp: 'PCP' }

/** A code's name (as its specification spells it), meaning and fix. */
export interface CodeInfo {
  /** The code's name as its specification spells it, e.g. "ConflictInMappingEntry". */
  name: string
  /** One sentence: what this means. */
  meaning: string
  /** One sentence: what to do. */
  fix: string
}

/** A failure explained: the library's failure fields plus what it means and what to do. */
export interface Explanation {
  /** `UPNPResult` name, e.g. "NOT_AUTHORIZED". */
  result: string
  /** The router's UPnP error code, e.g. 606. */
  upnpCode?: number
  /** Which protocol the router said it in (absent = UPnP). */
  via?: Via
  /** NAT-PMP / PCP: the result code of the router's answer, e.g. 2. */
  resultCode?: number
  /** The router's own words (or what went wrong on this side). */
  description: string
  /** HTTP status of the router's reply, when there was one. */
  httpStatus?: number
  /** One sentence: what this means. */
  meaning: string
  /** One sentence: what to do. */
  fix: string
}

/** The UPnP error codes of WANIPConnection (IGD:1/2), each with what it means and what to do. */
export const UPNP_CODES: Readonly<Record<number, CodeInfo>> = {
  401: {
    name: 'Invalid Action',
    meaning: 'the router does not offer this action: its UPnP service is incomplete or of another version.',
    fix: "Update the router's firmware, or forward the port by hand in the router's settings.",
  },
  402: {
    name: 'Invalid Args',
    meaning: "the router rejected the request's arguments; many routers accept only permanent mappings (lease 0).",
    fix: 'Try again with --lease 0.',
  },
  403: {
    name: 'Not Authorized',
    meaning: 'the router does not allow this change from this device.',
    fix: "Allow UPnP changes in the router's settings, or forward the port by hand.",
  },
  501: {
    name: 'Action Failed',
    meaning: 'the router accepted the request but could not carry it out (often a full or busy firewall table).',
    fix: 'Try again in a moment; restart the router if it keeps failing.',
  },
  606: {
    name: 'Action not authorized',
    meaning:
      "the router's UPnP policy does not allow this: routers commonly refuse ports below 1024 (outside or inside), changes to another device's mappings, or every change when UPnP is set to read-only.",
    fix: "Use an external port of 1024 or above (--internal keeps your program's own port), or allow the port in the router's UPnP settings.",
  },
  713: {
    name: 'SpecifiedArrayIndexInvalid',
    meaning: "the router's mapping table has no entry at that position.",
    fix: 'Nothing to do: it is how a router says the table has ended.',
  },
  714: {
    name: 'NoSuchEntryInArray',
    meaning: 'the router has no such mapping.',
    fix: "See the router's mappings with `upnp-native list`.",
  },
  715: {
    name: 'WildCardNotPermittedInSrcIP',
    meaning: 'the router does not accept a mapping open to every remote host.',
    fix: 'This router cannot open a port for everyone through UPnP; forward it by hand in its settings.',
  },
  716: {
    name: 'WildCardNotPermittedInExtPort',
    meaning: 'the router needs a specific external port.',
    fix: 'Give the external port explicitly.',
  },
  718: {
    name: 'ConflictInMappingEntry',
    meaning: 'the external port is already forwarded to another device (or to another port).',
    fix: 'Pick another external port, or delete the other mapping first (`upnp-native list` shows who holds it).',
  },
  724: {
    name: 'SamePortValuesRequired',
    meaning: 'this router can forward an external port only to the same internal port.',
    fix: 'Use the same port inside and outside (leave out --internal).',
  },
  725: { name: 'OnlyPermanentLeasesSupported', meaning: 'this router accepts only permanent mappings.', fix: 'Use --lease 0.' },
  726: {
    name: 'RemoteHostOnlySupportsWildcard',
    meaning: 'the router can open a port only to every remote host, not to one.',
    fix: 'Leave the remote host empty (this tool always does; the router misbehaves).',
  },
  727: {
    name: 'ExternalPortOnlySupportsWildcard',
    meaning: 'the router chooses external ports itself and refuses a fixed one.',
    fix: 'Use a program that asks for any port (AddAnyPortMapping), or forward the port by hand.',
  },
  728: {
    name: 'NoPortMapsAvailable',
    meaning: "the router's mapping table is full.",
    fix: 'Delete mappings nobody needs any more (`upnp-native list`, then `upnp-native unmap`), or restart the router.',
  },
  729: {
    name: 'ConflictWithOtherMechanisms',
    meaning: 'the port is already taken by something else on the router: a manual forward, one of its own services, or NAT-PMP/PCP.',
    fix: 'Pick another external port.',
  },
  730: {
    name: 'PortMappingNotFound',
    meaning: 'the router found no mapping in the given range.',
    fix: "See the router's mappings with `upnp-native list`.",
  },
  731: {
    name: 'ReadOnly',
    meaning: "the router's UPnP is read-only: it shows mappings but accepts no change.",
    fix: "Allow UPnP changes in the router's settings, or forward the port by hand.",
  },
  732: {
    name: 'WildCardNotPermittedInIntPort',
    meaning: 'the router needs a specific internal port.',
    fix: 'Give the internal port with --internal.',
  },
  733: {
    name: 'InconsistentParameters',
    meaning: "the request's values contradict each other, for instance an internal address that is not this device's.",
    fix: 'Run the command on the device that should receive the traffic.',
  },
}

/** NAT-PMP result codes (RFC 6886 3.5). */
export const NATPMP_CODES: Readonly<Record<number, CodeInfo>> = {
  1: {
    name: 'Unsupported Version',
    meaning: 'the router speaks another version of NAT-PMP.',
    fix: 'Use --protocol pcp or --protocol upnp.',
  },
  2: {
    name: 'Not Authorized/Refused',
    meaning: 'the router refuses this mapping: NAT-PMP may be switched off, or the port (below 1024?) or this device is not allowed.',
    fix: "Use a port of 1024 or above, allow NAT-PMP in the router's settings, or try --protocol upnp.",
  },
  3: {
    name: 'Network Failure',
    meaning: 'the router has no working Internet connection (no external address).',
    fix: "Check the router's Internet (WAN) connection.",
  },
  4: {
    name: 'Out of resources',
    meaning: 'the router cannot make any more mappings.',
    fix: 'Stop programs that hold mappings you do not need, or restart the router.',
  },
  5: { name: 'Unsupported opcode', meaning: 'the router does not support this request.', fix: 'Try --protocol upnp.' },
}

/** PCP result codes (RFC 6887 7.4). */
export const PCP_CODES: Readonly<Record<number, CodeInfo>> = {
  1: { name: 'UNSUPP_VERSION', meaning: 'the router speaks another version of PCP.', fix: 'Use --protocol pmp or --protocol upnp.' },
  2: {
    name: 'NOT_AUTHORIZED',
    meaning: "the router's policy refuses this mapping (for instance a port below 1024, or PCP mappings are not allowed for this device).",
    fix: "Use a port of 1024 or above, allow it in the router's settings, or try --protocol upnp.",
  },
  3: {
    name: 'MALFORMED_REQUEST',
    meaning: 'the router could not read the request.',
    fix: "Try --protocol pmp or --protocol upnp, and update the router's firmware.",
  },
  4: { name: 'UNSUPP_OPCODE', meaning: 'the router does not support this request.', fix: 'Try --protocol pmp or --protocol upnp.' },
  5: {
    name: 'UNSUPP_OPTION',
    meaning: 'the router does not support an option the request needs.',
    fix: 'Try --protocol pmp or --protocol upnp.',
  },
  6: {
    name: 'MALFORMED_OPTION',
    meaning: 'the router could not read an option of the request.',
    fix: 'Try --protocol pmp or --protocol upnp.',
  },
  7: {
    name: 'NETWORK_FAILURE',
    meaning: 'the router has no working Internet connection right now.',
    fix: "Check the router's Internet (WAN) connection, then try again.",
  },
  8: {
    name: 'NO_RESOURCES',
    meaning: 'the router has no room for this mapping now.',
    fix: 'Stop programs that hold mappings you do not need, or restart the router.',
  },
  9: {
    name: 'UNSUPP_PROTOCOL',
    meaning: 'the router cannot map this transport protocol.',
    fix: 'Try the other of --udp/--tcp, or --protocol upnp.',
  },
  10: {
    name: 'USER_EX_QUOTA',
    meaning: 'this device already holds as many mappings as the router allows.',
    fix: 'Close mappings this device no longer needs.',
  },
  11: { name: 'CANNOT_PROVIDE_EXTERNAL', meaning: 'the router cannot give the external port asked for.', fix: 'Ask for another port.' },
  12: {
    name: 'ADDRESS_MISMATCH',
    meaning: 'the router sees this device under another address: another NAT sits between this device and the router.',
    fix: 'Map on the router nearest to this device, or connect this device directly to the router.',
  },
  13: {
    name: 'EXCESSIVE_REMOTE_PEERS',
    meaning: 'the router cannot handle that many remote peers.',
    fix: 'Try again with fewer peers, or use --protocol upnp.',
  },
}

/** Codes the library maps to a result without keeping them when a policy (PortMapper) gave up. */
const CODE_OF_RESULT: Partial<Record<string, number>> = { CONFLICT_WITH_OTHER_MAPPING: 718, CONFLICT_WITH_OTHER_MECHANISM: 729 }

/**
 * What `explainFailure()` took before it took `UPNPErrorInfo`, the library's one failure shape
 * (the same fields).
 * @deprecated Use `UPNPErrorInfo`; this alias goes in 0.2 (docs/api.md, "Deprecated names").
 */
export type FailureInfo = UPNPErrorInfo

/** What a failure means and what to do about it, in one sentence each: from the router's
 *  UPnP, NAT-PMP or PCP code when it sent one, else from the result (HTTP errors, invalid
 *  replies, no gateway). The CLI prints exactly these sentences. */
export function explainFailure(info: UPNPErrorInfo): Explanation {
  const result = UPNPResult[info.result] ?? String(info.result)
  if (info.via === 'natpmp' || info.via === 'pcp') {
    const name = VIA_NAME[info.via]
    const base = {
      result,
      via: info.via,
      ...(info.resultCode != null ? { resultCode: info.resultCode } : {}),
      description: info.description,
    }
    const known = info.resultCode != null ? (info.via === 'pcp' ? PCP_CODES : NATPMP_CODES)[info.resultCode] : undefined
    if (known) return { ...base, meaning: known.meaning, fix: known.fix }
    if (info.resultCode != null)
      return {
        ...base,
        meaning: `the router answered ${name} with result ${info.resultCode}, which ${name} does not define.`,
        fix: 'Try --protocol upnp.',
      }
    const word = info.description.split(/[\s:]/)[0] ?? ''
    const meaning =
      word === 'REFUSED'
        ? `nothing answers ${name} on the router: its port 5351 is closed, so ${name} is switched off or not supported.`
        : word === 'TIMEOUT'
          ? `the router did not answer ${name} in time: ${name} is switched off, or something drops it.`
          : word === 'UNREACHABLE'
            ? 'the router cannot be reached from this machine.'
            : /^UNSUPP/.test(word)
              ? `the router speaks another version of ${name}.`
              : `the router did not answer ${name} (${info.description}).`
    return { ...base, meaning, fix: `Turn ${name} on in the router's settings (it often comes with UPnP), or use --protocol upnp.` }
  }
  const code = info.upnpCode ?? CODE_OF_RESULT[result]
  const base = {
    result,
    ...(code != null ? { upnpCode: code } : {}),
    description: info.description,
    ...(info.httpStatus != null ? { httpStatus: info.httpStatus } : {}),
  }
  const known = code != null ? UPNP_CODES[code] : undefined
  if (known) return { ...base, meaning: known.meaning, fix: known.fix }
  if (code != null) {
    return {
      ...base,
      meaning: `the router refused with an error code (${code}) that UPnP does not define; its words: "${info.description}".`,
      fix: "Look the code up in the router's manual, or forward the port by hand.",
    }
  }
  const R = UPNPResult
  switch (info.result) {
    case R.HTTP_ERROR:
      return {
        ...base,
        meaning: `the router did not answer the request${info.httpStatus ? ` (HTTP ${info.httpStatus})` : ''}: ${info.description}.`,
        fix: 'Try again; if it keeps failing, restart the router (some stop their UPnP service after a while).',
      }
    case R.INVALID_RESPONSE:
      return {
        ...base,
        meaning: 'the router answered with something that is not a UPnP reply.',
        fix: "Update the router's firmware, or forward the port by hand.",
      }
    case R.INVALID_GATEWAY:
    case R.NO_GATEWAY:
      return { ...base, meaning: 'there is no usable gateway to ask.', fix: 'Run `upnp-native doctor`.' }
    case R.SOCKET_ERROR:
      return {
        ...base,
        meaning: `the search could not be sent: ${info.description}.`,
        fix: "Check --interface and --ipv6 against this machine's network.",
      }
    default:
      return { ...base, meaning: `${info.description}.`, fix: 'Try again; run `upnp-native doctor` for a full check.' }
  }
}

/** `UPnP error 606, "Action not authorized"`, `NAT-PMP result 2, "Not Authorized/Refused"`, or the result name. */
export function codeText(f: Explanation): string {
  if (f.upnpCode != null) return `UPnP error ${f.upnpCode}, "${UPNP_CODES[f.upnpCode]?.name ?? f.description}"`
  if (f.via && f.via !== 'upnp' && f.resultCode != null) {
    const table = f.via === 'pcp' ? PCP_CODES : NATPMP_CODES
    return `${VIA_NAME[f.via]} result ${f.resultCode}, "${table[f.resultCode]?.name ?? f.description}"`
  }
  return f.via && f.via !== 'upnp' ? `${VIA_NAME[f.via]}: ${f.description}` : f.result
}
