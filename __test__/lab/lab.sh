#!/usr/bin/env bash
# Network test lab: a real UPnP router (miniupnpd) and a fake gateway, all in network
# namespaces, so discovery traffic never leaves this machine's own lab.
#
#   unl-client  192.168.77.10  fd77::10 ┐
#   unl-client2 192.168.77.11           ├─ br0 192.168.77.1 fd77::1 ─ unl-router ─ wan0 10.99.0.1 ── unl-wan 10.99.0.2
#   unl-fake    192.168.77.20/.21 fd77::20/::21 ┤   (miniupnpd)        2001:db8:99::1   2001:db8:99::2
#   unl-zoo     (the address of the replayed router, see __test__/zoo/) ┘   (IPv6 WAN: `lab.sh ipv6-wan on`)
#
#   The router also holds its reported external address 11.22.33.44 (the LAN's traffic to
#   11.22.33.0/24 leaves from it), and unl-wan runs a STUN server (coturn, RFC 5780) on
#   11.22.33.1 and 11.22.33.2, ports 3478 and 3479: the view from outside.
#   `lab.sh cgnat on` puts a carrier-grade NAT between router and WAN:
#   router wan0 100.64.0.2 ── 100.64.0.1 unl-cgn 11.33.0.1 ── 11.33.0.2 unl-wan
#
# Usage: lab.sh up | down | router-start [--no-upnp] [EXT_IP] | router-stop | router-reboot
#        | router-status | vpn metric|split|tun|off | ipv6-wan on|global|off | delay MS|off
#        | cgnat on|off | filtering open|strict | unforward udp|tcp PORT | stun-restart
#        | exec NS CMD...
#        | test [vitest args]
#        | matrix [vitest args] | runtime [vitest args] | demo | bench [bench args]
#        | godot [scenario ids]   (the differential suite against the real Godot engine)
#        | replay REPORT [--save ID] [CMD...]   (a doctor --report file played back as a device)
# Must run as root. Everything network-related runs inside the namespaces created here.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# UNL_PREFIX names this lab's namespaces, so that two labs (say a test run and a bench
# run) can exist side by side; addresses inside are the same, namespaces keep them apart.
P="${UNL_PREFIX:-unl}"
[[ $P =~ ^[a-z][a-z0-9]{0,7}$ ]] || { echo "lab: UNL_PREFIX must be 1-8 lowercase letters/digits" >&2; exit 2; }
STATE="$REPO/.lab/$P"
NS_ALL=($P-client $P-client2 $P-fake $P-router $P-wan $P-zoo)
# Made only by `lab.sh vpn` / `lab.sh cgnat on`, removed with the rest.
NS_VPN=$P-vpn
NS_CGN=$P-cgn
# Reported to clients as the router's public address. miniupnpd (and miniupnpc) refuse
# every private/reserved/documentation range, so this must be an ordinary unicast literal;
# 11.0.0.0/8 is what miniupnp's own addr_is_reserved test uses as "not reserved". No lab
# namespace has a route to it, so nothing is ever sent there.
DEFAULT_EXT_IP="11.22.33.44"
UUID="756e6c2d-6c61-4200-8000-00000000cafe"
HTTP_PORT=5000

log() { echo "lab: $*"; }
die() { echo "lab: error: $*" >&2; exit 1; }
inns() { local ns="$1"; shift; ip netns exec "$ns" "$@"; }

[[ $(id -u) -eq 0 ]] || die "must run as root"

ns_exists() { [[ -e "/run/netns/$1" ]]; }

# The view from outside: STUN server, CGNAT layer, filtering, the unforward fault.
# shellcheck source=__test__/lab/outside.sh
source "$REPO/__test__/lab/outside.sh"

# A fresh machine may not have the lab's software yet: install it (Debian, as root).
ensure_packages() {
  local missing=()
  command -v miniupnpd >/dev/null || missing+=(miniupnpd-nftables)
  command -v nft >/dev/null || missing+=(nftables)
  command -v upnpc >/dev/null || missing+=(miniupnpc)
  command -v natpmpc >/dev/null || missing+=(natpmpc)
  command -v ip >/dev/null || missing+=(iproute2)
  # The CLI's tests watch it in a real terminal (tmux; script(1) is in essential bsdutils).
  command -v tmux >/dev/null || missing+=(tmux)
  # The STUN server of the reachability tests, and its clients as the reference.
  command -v turnserver >/dev/null || missing+=(coturn)
  # The journal test reads the order of fsync and rename with strace.
  command -v strace >/dev/null || missing+=(strace)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The package must never run a router daemon on the host's own network.
  bash "$REPO/__test__/lab/stop-package-daemon.sh" miniupnpd
  bash "$REPO/__test__/lab/stop-package-daemon.sh" turnserver
}

# Rebuild the addon only when it is missing or older than the crate sources, and the
# TypeScript build (dist/: the CLI's and the packing test's package) when a source is newer.
ensure_build() {
  local node_file
  node_file=$(ls -t lib/native/*.node 2>/dev/null | head -n1 || true)
  if [[ -z $node_file ]] || [[ -n $(find crate Cargo.toml Cargo.lock -newer "$node_file" | head -n1) ]]; then
    log "build: npm run build"
    npm run build 9>&-
  elif [[ ! -f dist/index.js ]] || [[ -n $(find index.ts lib cli "$node_file" -newer dist/index.js | head -n1) ]]; then
    log "build: npm run build:ts"
    npm run build:ts 9>&-
  fi
}

# The packing test also type-checks a consumer with TypeScript 4.9, the oldest version the
# published declarations support. It is a small project of its own (its tsc would otherwise
# shadow the repository's TypeScript 5 in node_modules/.bin), installed here from its lockfile,
# outside the lab's namespaces (they have no route to a registry).
ensure_typescript_4_9() {
  local dir=__test__/package/typescript-4.9
  [[ -x $dir/node_modules/typescript/bin/tsc ]] && return 0
  log "installing TypeScript 4.9 for the packing test"
  npm ci --prefix "$dir" --no-audit --no-fund 9>&-
}

# The namespaces are machine-global: two runs of `test`/`demo` (or an `up` during a run) would
# tear each other's lab down. Serialize them on one lock, held by this script's process only
# (fd 9 is closed for everything we start, so the miniupnpd daemon never inherits it).
lock() {
  [[ -n ${UNL_LAB_LOCKED:-} ]] && return 0
  exec 9>>/run/lock/upnp-native-lab-$P.lock
  flock -w 600 9 || die "lab is busy (another lab.sh run holds /run/lock/upnp-native-lab-$P.lock)"
  export UNL_LAB_LOCKED=1
}

down() {
  lock
  local ns pids
  # A delay cable started from the host's namespace is not in any lab namespace.
  cable_stop
  for ns in "${NS_ALL[@]}" "$NS_VPN" "$NS_CGN"; do
    ns_exists "$ns" || continue
    # Every process still living in a lab namespace was started by the lab (miniupnpd,
    # the fake gateway, a stray test). TERM first, then KILL what is left.
    pids=$(ip netns pids "$ns" || true)
    if [[ -n $pids ]]; then
      kill $pids 2>/dev/null || true
      for _ in 1 2 3 4 5 6 7 8 9 10; do
        pids=$(ip netns pids "$ns" || true); [[ -z $pids ]] && break; sleep 0.1
      done
      [[ -n $pids ]] && kill -9 $pids 2>/dev/null || true
    fi
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$STATE"
  log "down"
}

# One veth pair: router end enslaved to br0, host end named lan0 inside NS.
lan_host() {
  local ns="$1" rif="$2"; shift 2
  ip -n $P-router link add "$rif" type veth peer name lan0 netns "$ns"
  ip -n $P-router link set "$rif" master br0 up
  lan_addresses "$ns" "$@"
}

# NS's lan0 (a veth end or the delay cable's TAP): its addresses, up, default route via the router.
lan_addresses() {
  local ns="$1" a; shift
  for a in "$@"; do ip -n "$ns" addr add "$a/24" dev lan0; done
  ip -n "$ns" link set lan0 up
  ip -n "$ns" route add default via 192.168.77.1
}

ipv6_ok() {
  # A namespace gets its own ipv6 sysctls; the module may also be off entirely.
  [[ -e /proc/sys/net/ipv6 ]] || return 1
  [[ $(inns $P-router sysctl -n net.ipv6.conf.all.disable_ipv6 2>/dev/null || echo 1) == 0 ]]
}

setup_ipv6() {
  if ! ipv6_ok; then log "note: IPv6 unavailable in namespaces, LAN is IPv4 only"; return 0; fi
  # nodad: addresses usable at once (no 1-2 s tentative phase).
  ip -n $P-router addr add fd77::1/64 dev br0 nodad &&
  ip -n $P-client addr add fd77::10/64 dev lan0 nodad &&
  ip -n $P-client2 addr add fd77::11/64 dev lan0 nodad &&
  ip -n $P-fake addr add fd77::20/64 dev lan0 nodad &&
  ip -n $P-fake addr add fd77::21/64 dev lan0 nodad &&
  log "IPv6 ULA fd77::/64 on the LAN" ||
  log "note: could not configure IPv6 on the LAN, continuing IPv4 only"
}

# miniupnpd 2.3.1's nftables backend defaults (strings in the binary, and the config keys
# upnp_table_name / upnp_nat_table_name / upnp_forward_chain / upnp_nat_chain /
# upnp_nat_postrouting_chain): table "filter" for both filter and nat, family inet, chains
# miniupnpd / prerouting_miniupnpd / postrouting_miniupnpd. It only adds rules to those
# chains; the base chains that jump to them are ours (Debian's nft_init.sh is broken).
setup_nft() {
  inns $P-router nft -f - <<'EOF'
table inet filter {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "br0" oifname "wan0" accept
    iifname "br0" oifname "br0" accept
    # WAN -> LAN only what miniupnpd opened: proves its filter rules land too.
    jump miniupnpd
  }
  chain miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
    # To the STUN server's prefix the LAN leaves from the reported external address, so that
    # the view from outside and the router's report agree (masquerade would pick 10.99.0.1).
    oifname "wan0" ip daddr 11.22.33.0/24 snat ip to 11.22.33.44
    oifname "wan0" masquerade
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }
}
EOF
}

up() {
  lock
  ensure_packages
  down >/dev/null
  log "up: namespaces ${NS_ALL[*]}"
  local ns
  for ns in "${NS_ALL[@]}"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done

  ip -n $P-router link add br0 type bridge
  # No IGMP snooping: without a querier it could starve a port of SSDP multicast.
  ip -n $P-router link set br0 type bridge mcast_snooping 0
  ip -n $P-router addr add 192.168.77.1/24 dev br0
  ip -n $P-router link set br0 up
  lan_host $P-client vclient 192.168.77.10
  lan_host $P-client2 vclient2 192.168.77.11
  lan_host $P-fake vfake 192.168.77.20 192.168.77.21
  # The router zoo's replays: on the LAN without an address; each replay gets the address its
  # router had in the capture (__test__/zoo/zoo-lab.ts).
  ip -n $P-router link add vzoo type veth peer name lan0 netns $P-zoo
  ip -n $P-router link set vzoo master br0 up
  ip -n $P-zoo link set lan0 up

  ip -n $P-router link add wan0 type veth peer name wan0 netns $P-wan
  ip -n $P-router addr add 10.99.0.1/24 dev wan0
  ip -n $P-wan addr add 10.99.0.2/24 dev wan0
  ip -n $P-router link set wan0 up
  ip -n $P-wan link set wan0 up
  ip -n $P-router route add default via 10.99.0.2
  inns $P-router sysctl -qw net.ipv4.ip_forward=1
  # With br_netfilter loaded on the host, bridged LAN<->LAN frames would also traverse the
  # router's forward chain (policy drop). The LAN is a plain switch: keep it out of nftables.
  if inns $P-router test -e /proc/sys/net/bridge/bridge-nf-call-iptables; then
    inns $P-router sysctl -qw net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 \
      net.bridge.bridge-nf-call-arptables=0
  fi
  setup_ipv6

  log "nftables ruleset in $P-router"
  setup_nft
  setup_stun_addresses
  stun_start
  router_start "$@"
}


write_conf() {
  local ext_ip="$1" upnp="$2" ipv6=""
  mkdir -p "$STATE"
  # IPv6 (pinholes over UPnP's WANIPv6FirewallControl and PCP): the WAN interface its pinhole
  # rules match (iif), said rather than defaulted. Not ipv6_listening_ip: miniupnpd 2.3.1 then
  # serves HTTP on that address alone, and IPv4 control points get "connection refused".
  ipv6_ok && ipv6='ext_ifname6=wan0'
  cat >"$STATE/miniupnpd.conf" <<EOF
ext_ifname=wan0
ext_ip=$ext_ip
listening_ip=br0
port=$HTTP_PORT
enable_upnp=$upnp
enable_natpmp=yes
secure_mode=yes
system_uptime=no
uuid=$UUID
friendly_name=upnp-native lab router
serial=UNL7E41A9
lease_file=$STATE/miniupnpd.leases
upnp_table_name=filter
upnp_nat_table_name=filter
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
allow 1024-65535 192.168.77.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
$ipv6
EOF
}

router_pid() {
  local pid
  pid=$(cat "$STATE/miniupnpd.pid" 2>/dev/null) || return 1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# Is miniupnpd really serving? UPnP: its description answers 200 from the client side.
# NAT-PMP only: its UDP 5351 socket is bound (checked locally, no traffic needed).
router_ready() {
  if grep -q '^enable_upnp=yes' "$STATE/miniupnpd.conf"; then
    inns $P-client timeout 1 bash -c "exec 3<>/dev/tcp/192.168.77.1/$HTTP_PORT &&
      printf 'GET /rootDesc.xml HTTP/1.0\r\nHost: 192.168.77.1:$HTTP_PORT\r\n\r\n' >&3 &&
      head -n1 <&3 | grep -q ' 200 '" 2>/dev/null
  else
    [[ -n $(inns $P-router ss -Hlnu 'sport = :5351') ]]
  fi
}

start_daemon() {
  ns_exists $P-router || die "no lab (run: lab.sh up)"
  router_pid >/dev/null && die "miniupnpd already running (pid $(router_pid))"
  rm -f "$STATE/miniupnpd.pid"
  # No -d: debug logging makes every request ~5 ms slower. It daemonizes itself.
  inns $P-router miniupnpd -f "$STATE/miniupnpd.conf" -P "$STATE/miniupnpd.pid" 9>&- ||
    die "miniupnpd refused to start (a reserved ext_ip? see its message above)"
  local i
  for i in $(seq 50); do
    router_ready && { log "miniupnpd up (pid $(router_pid))"; return 0; }
    sleep 0.1
  done
  die "miniupnpd did not come up within 5 s"
}

router_start() {
  local upnp=yes ext_ip="$DEFAULT_EXT_IP"
  [[ ${UNL_NO_UPNP:-} == 1 ]] && upnp=no
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --no-upnp) upnp=no ;;
      *) ext_ip="$1" ;;
    esac
    shift
  done
  write_conf "$ext_ip" "$upnp"
  log "router-start ext_ip=$ext_ip enable_upnp=$upnp"
  start_daemon
}

router_stop() {
  local pid
  if pid=$(router_pid); then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$STATE/miniupnpd.pid"
  log "miniupnpd stopped"
}

# A real reboot clears the firewall and the lease file; a bare restart would re-adopt the
# rules miniupnpd left in its chains and bring every old mapping back.
router_reboot() {
  [[ -f $STATE/miniupnpd.conf ]] || die "no router config (run: lab.sh up)"
  router_stop
  inns $P-router nft flush chain inet filter miniupnpd
  inns $P-router nft flush chain inet filter prerouting_miniupnpd
  inns $P-router nft flush chain inet filter postrouting_miniupnpd
  rm -f "$STATE/miniupnpd.leases"
  log "router-reboot: chains flushed, leases deleted"
  start_daemon
}

# A "VPN" on the client that takes the way to the Internet away from the LAN, in the shapes
# real VPN clients give it (the LAN's own default route moves to metric 100, as
# NetworkManager gives Ethernet):
#   metric  a better default route (metric 50) via the VPN's gateway 10.8.0.1 on vpn0, a veth
#           to the $NS_VPN namespace (which answers ARP, nothing else)
#   split   0.0.0.0/1 and 128.0.0.0/1 via 10.8.0.1 (OpenVPN's redirect-gateway def1): the
#           default route stays on the LAN, but every destination, SSDP's group included, is
#           routed into the VPN
#   tun     a tun device tun0 (WireGuard/OpenVPN style; nothing reads it, so what goes there
#           is dropped and counted) holding a better default route without a gateway
#   off     back to the plain LAN
vpn() {
  local mode="${1:-}"
  ns_exists $P-client || die "no lab (run: lab.sh up)"
  ip -n $P-client link del vpn0 2>/dev/null || true
  ip -n $P-client link del tun0 2>/dev/null || true
  ns_exists $NS_VPN && ip netns del $NS_VPN
  ip -n $P-client route flush exact 0.0.0.0/1 2>/dev/null || true
  ip -n $P-client route flush exact 128.0.0.0/1 2>/dev/null || true
  ip -n $P-client route flush exact 0.0.0.0/0
  case "$mode" in
    off) ip -n $P-client route add default via 192.168.77.1 dev lan0; log "vpn off"; return 0 ;;
    metric|split|tun) ip -n $P-client route add default via 192.168.77.1 dev lan0 metric 100 ;;
    *) die "usage: lab.sh vpn metric|split|tun|off" ;;
  esac
  if [[ $mode == tun ]]; then
    ip -n $P-client tuntap add dev tun0 mode tun
    ip -n $P-client addr add 10.9.0.2/24 dev tun0
    ip -n $P-client link set tun0 up
    ip -n $P-client route add default dev tun0 metric 50
  else
    ip netns add $NS_VPN
    ip -n $NS_VPN link set lo up
    ip -n $P-client link add vpn0 type veth peer name vpn0 netns $NS_VPN
    ip -n $P-client addr add 10.8.0.2/24 dev vpn0
    ip -n $NS_VPN addr add 10.8.0.1/24 dev vpn0
    ip -n $P-client link set vpn0 up
    ip -n $NS_VPN link set vpn0 up
    if [[ $mode == metric ]]; then
      ip -n $P-client route add default via 10.8.0.1 dev vpn0 metric 50
    else
      ip -n $P-client route add 0.0.0.0/1 via 10.8.0.1 dev vpn0
      ip -n $P-client route add 128.0.0.0/1 via 10.8.0.1 dev vpn0
    fi
  fi
  log "vpn $mode: $(ip -n $P-client route get 239.255.255.250 | head -n1)"
}

# IPv6 on the WAN side, for the pinhole tests: the router's wan0 and the WAN host get
# addresses of the documentation prefix 2001:db8:99::/64 (inside these namespaces only), the
# WAN host routes the LAN's fd77::/64 through the router, the router forwards IPv6 (its
# nftables forward chain drops by default: only miniupnpd's pinholes let WAN -> LAN through),
# and the client gets an IPv6 default route via the router's link-local fe80::1, as routers
# announce it. Opt-in: an IPv6 default route changes what defaultGateway() and the probe see,
# which the IPv4 tests must not. Neighbours are static, so no first packet waits on (or is
# lost to) neighbour discovery. `global` adds a global prefix on the LAN beside the ULA
# (2001:db8:77::/64, documentation addresses: router ::1, client ::10, routed by the WAN host
# through the router), as ISPs delegate one: the router is still reached on its ULA, while
# only the global address is what a pinhole must be for (the ULA is not routed in from the
# WAN then: the WAN host has no route to fd77::/64).
ipv6_wan() {
  ns_exists $P-router || die "no lab (run: lab.sh up)"
  ipv6_ok || die "ipv6-wan: IPv6 is unavailable in the namespaces"
  ns_exists $NS_CGN && die "ipv6-wan: cgnat is on (it moved the WAN cable); run lab.sh cgnat off first"
  ip -n $P-client -6 route flush exact ::/0 2>/dev/null || true
  ip -n $P-router -6 route flush exact ::/0 2>/dev/null || true
  ip -n $P-router addr del 2001:db8:99::1/64 dev wan0 2>/dev/null || true
  ip -n $P-router addr del fe80::1/64 dev br0 2>/dev/null || true
  ip -n $P-wan addr del 2001:db8:99::2/64 dev wan0 2>/dev/null || true
  ip -n $P-wan -6 neigh flush dev wan0 2>/dev/null || true
  ip -n $P-router -6 neigh flush dev wan0 2>/dev/null || true
  ip -n $P-router addr del 2001:db8:77::1/64 dev br0 2>/dev/null || true
  ip -n $P-client addr del 2001:db8:77::10/64 dev lan0 2>/dev/null || true
  ip -n $P-wan -6 route flush exact 2001:db8:77::/64 2>/dev/null || true
  inns $P-router sysctl -qw net.ipv6.conf.all.forwarding=0
  local mode="${1:-}"
  case "$mode" in
    off) log "ipv6-wan off"; return 0 ;;
    on|global) ;;
    *) die "usage: lab.sh ipv6-wan on|global|off" ;;
  esac
  local mac_rwan mac_wan mac_br mac_client
  mac_rwan=$(inns $P-router cat /sys/class/net/wan0/address)
  mac_wan=$(inns $P-wan cat /sys/class/net/wan0/address)
  mac_br=$(inns $P-router cat /sys/class/net/br0/address)
  mac_client=$(inns $P-client cat /sys/class/net/lan0/address)
  ip -n $P-router addr add 2001:db8:99::1/64 dev wan0 nodad
  ip -n $P-router addr add fe80::1/64 dev br0 nodad
  ip -n $P-wan addr add 2001:db8:99::2/64 dev wan0 nodad
  if [[ $mode == global ]]; then
    ip -n $P-router addr add 2001:db8:77::1/64 dev br0 nodad
    ip -n $P-client addr add 2001:db8:77::10/64 dev lan0 nodad
    ip -n $P-wan -6 route replace 2001:db8:77::/64 via 2001:db8:99::1 dev wan0
    ip -n $P-router -6 neigh replace 2001:db8:77::10 lladdr "$mac_client" dev br0 nud permanent
  else
    ip -n $P-wan -6 route replace fd77::/64 via 2001:db8:99::1 dev wan0
  fi
  ip -n $P-router -6 route replace default via 2001:db8:99::2 dev wan0
  inns $P-router sysctl -qw net.ipv6.conf.all.forwarding=1
  ip -n $P-client -6 route replace default via fe80::1 dev lan0
  ip -n $P-wan -6 neigh replace 2001:db8:99::1 lladdr "$mac_rwan" dev wan0 nud permanent
  ip -n $P-router -6 neigh replace 2001:db8:99::2 lladdr "$mac_wan" dev wan0 nud permanent
  ip -n $P-router -6 neigh replace fd77::10 lladdr "$mac_client" dev br0 nud permanent
  ip -n $P-client -6 neigh replace fe80::1 lladdr "$mac_br" dev lan0 nud permanent
  log "ipv6-wan $mode: WAN 2001:db8:99::/64, client default route via fe80::1"
}

# Replies from the router slowed down by MS milliseconds, as in front of a real home router
# (this kernel has no sch_netem): the client's veth becomes two TAP devices, lan0 in the client
# and vclient on the router's bridge, with __test__/lab/delay-cable.c between them holding every
# router-to-client frame for MS ms. `delay off` puts the veth back. Checked by timing a TCP
# connect from the client (bench/bench.ts records it with every run).
cable_stop() {
  local pid
  pid=$(cat "$STATE/cable.pid" 2>/dev/null) || return 0
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
  fi
  rm -f "$STATE/cable.pid"
}

delay() {
  local ms="${1:-}"
  [[ $ms == off || $ms =~ ^[0-9]{1,5}$ ]] || die "usage: lab.sh delay MS|off"
  ns_exists $P-client || die "no lab (run: lab.sh up)"
  # ipv6-wan pins lan0's MAC address and routes on it; a new lan0 would silently lose them.
  [[ $(inns $P-router sysctl -n net.ipv6.conf.all.forwarding 2>/dev/null || echo 0) == 0 ]] ||
    die "delay: ipv6-wan is on (it pins lan0's address); run lab.sh ipv6-wan off first"
  cable_stop
  ip -n $P-router link del vclient 2>/dev/null || true
  ip -n $P-client link del lan0 2>/dev/null || true
  if [[ $ms == off ]]; then
    lan_host $P-client vclient 192.168.77.10
  else
    local src="$REPO/__test__/lab/delay-cable.c" bin="$STATE/delay-cable"
    if [[ ! -x $bin || $src -nt $bin ]]; then
      mkdir -p "$STATE"
      gcc -O2 -Wall -o "$bin" "$src" || die "could not compile $src (gcc)"
    fi
    ip -n $P-router tuntap add dev vclient mode tap
    ip -n $P-router link set vclient master br0 up
    ip -n $P-client tuntap add dev lan0 mode tap
    lan_addresses $P-client 192.168.77.10
    setsid "$bin" "$ms" $P-client lan0 $P-router vclient </dev/null >>"$STATE/cable.log" 2>&1 9>&- &
    echo $! >"$STATE/cable.pid"
    # A TAP has no carrier until the cable holds it: wait, or a caller that searches at once
    # loses its first packets.
    local i
    for ((i = 0; i < 100; i++)); do
      if ! ip -n $P-client link show lan0 | grep -q NO-CARRIER &&
        ! ip -n $P-router link show vclient | grep -q NO-CARRIER; then
        break
      fi
      sleep 0.05
    done
    ((i < 100)) || die "delay: the cable did not attach to lan0 and vclient (see $STATE/cable.log)"
  fi
  if ipv6_ok; then ip -n $P-client addr add fd77::10/64 dev lan0 nodad 2>/dev/null || true; fi
  # The new lan0 has a new MAC address: the router would send its replies to multicast
  # searches (which need no ARP from the client) to the old one until its entry expires.
  ip -n $P-router neigh flush to 192.168.77.10 2>/dev/null || true
  ip -n $P-router -6 neigh flush to fd77::10 2>/dev/null || true
  log "delay $ms"
}

cmd="${1:-}"; shift || true
case "$cmd" in
  up) up "$@" ;;
  down) down ;;
  router-start) router_start "$@" ;;
  router-stop) router_stop ;;
  router-reboot) router_reboot ;;
  router-status) router_pid || { echo "miniupnpd not running"; exit 1; } ;;
  vpn) lock; vpn "$@" ;;
  ipv6-wan) lock; ipv6_wan "$@" ;;
  delay) lock; delay "$@" ;;
  cgnat) lock; cgnat "$@" ;;
  filtering) lock; filtering "$@" ;;
  unforward) unforward "$@" ;;
  stun-restart) stun_start ;;
  exec)
    [[ $# -ge 2 ]] || die "usage: lab.sh exec NS CMD..."
    ns="$1"; shift
    exec ip netns exec "$P-${ns#"$P"-}" "$@" ;;
  test)
    up
    trap down EXIT
    cd "$REPO"
    ensure_build
    ensure_typescript_4_9
    log "test: vitest in $P-client"
    ip netns exec $P-client env UPNP_LAB=1 npx vitest run "$@" 9>&- ;;
  matrix)
    # vitest under each Node binary of UNL_NODE_PATHS (bin directories, colon-separated), in
    # one lab: .ci/node-matrix.sh. The matching `node` runs vitest and everything it starts.
    [[ -n ${UNL_NODE_PATHS:-} ]] || die "matrix: set UNL_NODE_PATHS"
    up
    trap down EXIT
    cd "$REPO"
    ensure_build
    status=0
    IFS=: read -r -a node_dirs <<<"$UNL_NODE_PATHS"
    for dir in "${node_dirs[@]}"; do
      version=$("$dir/node" --version)
      log "matrix: vitest with Node $version in $P-client"
      ip netns exec $P-client env PATH="$dir:$PATH" UPNP_LAB=1 UNL_EXPECT_RUNTIME="node $version" \
        "$dir/node" node_modules/vitest/vitest.mjs run "$@" 9>&- || status=1
    done
    exit "$status" ;;
  runtime)
    # vitest run by another runtime, in the lab: .ci/runtimes.sh (Bun, Deno). UNL_RUNTIME_CMD
    # is the command that runs a script ("/path/bun", "/path/deno run -A"); UNL_RUNTIME names
    # it as the tests check it ("bun 1.4.4").
    [[ -n ${UNL_RUNTIME_CMD:-} && -n ${UNL_RUNTIME:-} ]] || die "runtime: set UNL_RUNTIME_CMD and UNL_RUNTIME"
    up
    trap down EXIT
    cd "$REPO"
    ensure_build
    read -r -a runtime_cmd <<<"$UNL_RUNTIME_CMD"
    log "runtime: vitest with $UNL_RUNTIME in $P-client"
    ip netns exec $P-client env PATH="$(dirname "${runtime_cmd[0]}"):$PATH" UPNP_LAB=1 UNL_EXPECT_RUNTIME="$UNL_RUNTIME" \
      "${runtime_cmd[@]}" node_modules/vitest/vitest.mjs run "$@" 9>&- ;;
  demo)
    up
    trap down EXIT
    cd "$REPO"
    ensure_build
    ip netns exec $P-client env UPNP_LAB=1 npx tsx examples/godot-example.ts 9>&- ;;
  bench)
    # The C harness for miniupnpc is compiled by the bench itself; it needs the headers.
    if [[ ! -e /usr/include/miniupnpc/miniupnpc.h ]] || ! command -v gcc >/dev/null; then
      log "installing libminiupnpc-dev gcc"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libminiupnpc-dev gcc >/dev/null
    fi
    up
    trap down EXIT
    cd "$REPO"
    ensure_build
    log "bench: bench/bench.ts in $P-client"
    ip netns exec $P-client env UPNP_LAB=1 UNL_PREFIX=$P node --expose-gc --import tsx bench/bench.ts "$@" 9>&- ;;
  replay)
    # The router of a `doctor --report` file played back in the lab as a zoo device (miniupnpd
    # stopped meanwhile), then CMD (default: the CLI's doctor as the report ran it) in the
    # client; --save ID keeps the device as __test__/zoo/devices/ID. See __test__/zoo/replay-report.ts.
    [[ $# -ge 1 && -f $1 ]] || die "usage: lab.sh replay REPORT.json [--save DEVICE-ID] [CMD...]"
    report=$(realpath "$1")
    shift
    up
    trap down EXIT
    cd "$REPO"
    ensure_build
    ip netns exec "$P-client" env UPNP_LAB=1 UNL_PREFIX="$P" node --import tsx __test__/zoo/replay-report.ts "$report" "$@" 9>&- ;;
  godot)
    # Debian 12's godot3-server: Godot 3.2.3, headless, its UPNP module on the miniupnpc it
    # bundles. It runs GDScript without a project (-s), inside the client namespace.
    if ! command -v godot3-server >/dev/null; then
      log "installing godot3-server"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends godot3-server >/dev/null
    fi
    up
    trap down EXIT
    cd "$REPO"
    ensure_build
    log "godot: __test__/godot/run.ts in $P-client"
    ip netns exec $P-client env UPNP_LAB=1 UNL_PREFIX=$P node --import tsx __test__/godot/run.ts "$@" 9>&- ;;
  *)
    sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
    exit 2 ;;
esac
