#!/usr/bin/env bash
# The lab's view from outside, sourced by lab.sh (it uses lab.sh's P, STATE, NS_CGN, inns,
# ns_exists, log and die): the router's public-side address and the STUN server (coturn, RFC
# 5780) in the WAN namespace, the carrier-grade NAT layer (`lab.sh cgnat`), the emulated
# non-filtering NAT (`lab.sh filtering`) and the fault "listed but not forwarding"
# (`lab.sh unforward`). For the reachability checks of issue 23.
# shellcheck disable=SC2154  # P, STATE, NS_CGN: set by lab.sh before it sources this file

# The public side the STUN tests need: the router holds 11.22.33.44 (what miniupnpd reports)
# and reaches 11.22.33.0/24 through the WAN host, which holds the STUN server's two addresses
# on its loopback (so `cgnat on` can move the router's cable without taking them away).
setup_stun_addresses() {
  ip -n $P-router addr add 11.22.33.44/32 dev wan0
  ip -n $P-router route add 11.22.33.0/24 via 10.99.0.2 src 11.22.33.44
  ip -n $P-wan addr add 11.22.33.1/32 dev lo
  ip -n $P-wan addr add 11.22.33.2/32 dev lo
  ip -n $P-wan route add 11.22.33.44/32 via 10.99.0.1
}

stun_pid() {
  local pid
  pid=$(cat "$STATE/turnserver.pid" 2>/dev/null) || return 1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# coturn as a STUN-only server with RFC 5780 (two addresses, two ports): CHANGE-REQUEST,
# OTHER-ADDRESS and RESPONSE-ORIGIN. No config file (-n), no TURN, no TLS, no CLI.
stun_start() {
  local pid i
  if pid=$(stun_pid); then kill "$pid"; fi
  mkdir -p "$STATE"
  rm -f "$STATE/turnserver.pid"
  setsid ip netns exec $P-wan turnserver -n --stun-only --no-cli --no-tls --no-dtls \
    -L 11.22.33.1 -L 11.22.33.2 --listening-port 3478 --alt-listening-port 3479 \
    --log-file "$STATE/turnserver.log" --simple-log --pidfile "$STATE/turnserver.pid" \
    </dev/null >>"$STATE/turnserver.out" 2>&1 9>&- &
  for ((i = 0; i < 50; i++)); do
    [[ $(inns $P-wan ss -Hlnu 'sport = :3479' | wc -l) -ge 2 ]] && { log "STUN server up (coturn on 11.22.33.1, 11.22.33.2)"; return 0; }
    sleep 0.1
  done
  die "the STUN server (turnserver) did not come up within 5 s (see $STATE/turnserver.out)"
}

# A carrier-grade NAT between the router and the WAN, as ISPs short of IPv4 addresses run
# them: the router's cable is moved from the WAN host to $NS_CGN (the router's interface and
# miniupnpd's rules stay; its WAN address becomes 100.64.0.2, shared address space, RFC 6598),
# which masquerades everything to its own 11.33.0.1 and lets nothing in unsolicited. miniupnpd
# keeps reporting 11.22.33.44, a public-looking address it cannot map for: the case where a
# mapping succeeds and is useless, which only a view from outside (STUN) reveals.
cgnat() {
  ns_exists $P-router || die "no lab (run: lab.sh up)"
  [[ $(inns $P-router sysctl -n net.ipv6.conf.all.forwarding 2>/dev/null || echo 0) == 0 ]] ||
    die "cgnat: ipv6-wan is on (it uses the same cable); run lab.sh ipv6-wan off first"
  case "${1:-}" in
    on)
      ns_exists $NS_CGN && { log "cgnat already on"; return 0; }
      ip netns add $NS_CGN
      ip -n $NS_CGN link set lo up
      ip -n $P-wan link set wan0 netns $NS_CGN
      ip -n $NS_CGN link set wan0 name sub0
      ip -n $NS_CGN addr add 100.64.0.1/24 dev sub0
      ip -n $NS_CGN link set sub0 up
      ip -n $NS_CGN link add up0 type veth peer name cgn0 netns $P-wan
      ip -n $NS_CGN addr add 11.33.0.1/24 dev up0
      ip -n $NS_CGN link set up0 up
      ip -n $P-wan addr add 11.33.0.2/24 dev cgn0
      ip -n $P-wan link set cgn0 up
      ip -n $NS_CGN route add default via 11.33.0.2
      ip -n $NS_CGN route add 11.22.33.44/32 via 100.64.0.2
      inns $NS_CGN sysctl -qw net.ipv4.ip_forward=1
      inns $NS_CGN nft -f - <<'EOF'
table ip cgn {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "sub0" oifname "up0" accept
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    oifname "up0" masquerade
  }
}
EOF
      ip -n $P-router addr del 10.99.0.1/24 dev wan0
      ip -n $P-router addr add 100.64.0.2/24 dev wan0
      ip -n $P-router route replace default via 100.64.0.1
      ip -n $P-router route replace 11.22.33.0/24 via 100.64.0.1 src 11.22.33.44
      log "cgnat on: router WAN 100.64.0.2 behind $NS_CGN (11.33.0.1)" ;;
    off)
      ns_exists $NS_CGN || { log "cgnat already off"; return 0; }
      ip -n $NS_CGN link set sub0 netns $P-wan
      ip -n $P-wan link set sub0 name wan0
      ip -n $P-wan addr add 10.99.0.2/24 dev wan0
      ip -n $P-wan link set wan0 up
      ip netns del $NS_CGN
      ip -n $P-router addr del 100.64.0.2/24 dev wan0
      ip -n $P-router addr add 10.99.0.1/24 dev wan0
      ip -n $P-router route replace default via 10.99.0.2
      ip -n $P-router route replace 11.22.33.0/24 via 10.99.0.2 src 11.22.33.44
      ip -n $P-wan route replace 11.22.33.44/32 via 10.99.0.1
      log "cgnat off" ;;
    *) die "usage: lab.sh cgnat on|off" ;;
  esac
}

# How the router filters unsolicited UDP: `strict` (default) is Linux conntrack, address-
# and-port-dependent filtering (only answers from where we sent get in); `open` emulates an
# endpoint-independent-filtering NAT ("full cone"): any host may send to a port the LAN used
# outbound in the last 2 minutes, and it reaches that LAN host. The kernel keeps source ports
# when it can, so the port seen outside is the LAN host's own.
filtering() {
  ns_exists $P-router || die "no lab (run: lab.sh up)"
  local h
  inns $P-router nft delete table inet eim 2>/dev/null || true
  for h in $(inns $P-router nft -a list chain inet filter forward | sed -nE 's/.*"filtering-open".*# handle ([0-9]+)$/\1/p'); do
    inns $P-router nft delete rule inet filter forward handle "$h"
  done
  case "${1:-}" in
    strict) log "filtering strict" ;;
    open)
      inns $P-router nft -f - <<'EOF'
table inet eim {
  map ports { type inet_service : ipv4_addr; flags dynamic,timeout; timeout 2m; }
  chain remember {
    type filter hook postrouting priority 200; policy accept;
    oifname "wan0" meta l4proto udp update @ports { udp sport : ct original ip saddr }
  }
  chain let_in {
    type nat hook prerouting priority -110; policy accept;
    iifname "wan0" meta l4proto udp ct state new udp dport @ports meta mark set 0xe1f dnat ip to udp dport map @ports
  }
}
EOF
      inns $P-router nft insert rule inet filter forward meta mark 0xe1f accept comment '"filtering-open"'
      log "filtering open (endpoint-independent)" ;;
    *) die "usage: lab.sh filtering open|strict" ;;
  esac
}

# "Listed but not forwarding": miniupnpd's filter rule for a mapping (internal PORT) removed
# behind its back; its DNAT rule stays, so the router still lists the mapping (miniupnpd lists
# from its DNAT rules) but the forward chain drops what arrives. Deleting and re-adding the
# mapping through miniupnpd writes the rule again.
unforward() {
  local proto="${1:-}" port="${2:-}" num handles h
  case "$proto" in udp) num=0x11 ;; tcp) num=0x06 ;; *) die "usage: lab.sh unforward udp|tcp PORT" ;; esac
  [[ $port =~ ^[0-9]{1,5}$ ]] || die "usage: lab.sh unforward udp|tcp PORT"
  handles=$(inns $P-router nft -a list chain inet filter miniupnpd |
    sed -nE "s/.* th dport $port .*@nh,72,8 $num accept # handle ([0-9]+)$/\1/p")
  [[ -n $handles ]] || die "unforward: miniupnpd has no forwarding rule for $proto $port"
  for h in $handles; do inns $P-router nft delete rule inet filter miniupnpd handle "$h"; done
  log "unforward: $proto $port is still listed but no longer forwarded"
}
