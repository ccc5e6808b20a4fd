/** Help texts: the main page (assembled from each command's summary) and a command's page. */
import { DISCOVER_TIMEOUT_MS } from '../lib/defaults.ts'
import type { Command } from './command.ts'

const GLOBAL_HELP = `Options for every command:
  --json               machine-readable output on stdout; its schema, "JSON output" in
                       https://github.com/upnp-native/upnp-native/blob/HEAD/docs/cli.md
  --timeout <time>     how long to search for gateways (default ${DISCOVER_TIMEOUT_MS / 1000}s; 5, 1.5s, 800ms)
  --interface <if>     search on this network interface (name or address)
  --gateway <where>    use the gateway at this address or description URL
  --ipv6               search over IPv6
  --protocol <p>       upnp | pmp (NAT-PMP) | pcp | auto (default: UPnP for mappings,
                       every protocol for status and doctor)
  -q, --quiet          no spinner, notes or hints: only the result and errors
  --no-color           no colours (NO_COLOR=1 does the same)
  --verbose            say what the library decides, as it happens (on stderr)
  --log-http           the wire transcript of every exchange: SSDP, HTTP heads and
                       bodies, SOAP, NAT-PMP/PCP (on stderr, escaped)
  -h, --help           help; \`upnp-native <command> --help\` for one command
  -v, --version        the version`

const EXIT_HELP = `Exit codes: 0 success, 1 the operation failed (the router said no), 2 usage error,
            3 no usable gateway, 130 interrupted (Ctrl-C) before the work was done.`

export function mainHelp(commands: readonly Command[], bugs: string): string {
  const list = commands.map((c) => `  ${c.synopsis.padEnd(21)}${c.summary}`).join('\n')
  return `upnp-native: forward ports on your router with UPnP, and find out why it does not work

Usage: upnp-native [command] [options]

Commands:
${list}

${GLOBAL_HELP}

${EXIT_HELP}

Examples:
  npx upnp-native
  npx upnp-native map 25565 --tcp --keep
  npx upnp-native doctor${bugs ? `\n\nReport bugs: ${bugs}` : ''}`
}

export function commandHelp(command: Command): string {
  return `${command.help}\n\n${GLOBAL_HELP}`
}
