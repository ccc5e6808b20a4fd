#!/usr/bin/env bash
# Stops a daemon that a Debian package may start on the host's own network when it is
# installed (the lab needs only the binaries; lab.sh and .ci/run install them and then call
# this): miniupnpd (a router daemon) or turnserver (coturn: the package's service is off by
# default, but a machine may have it enabled). That one daemon only: through its service when
# one is installed, else by the pid file the package's daemon writes, and only while that pid
# is still that program in this script's network namespace (the host's: lab.sh and .ci/run run
# it there; every lab daemon lives in a namespace of its own). Never by name: `pkill -x
# miniupnpd` also stops every lab's router on the machine (a bench running beside the tests).
#
# Usage: stop-package-daemon.sh miniupnpd|turnserver
# UNL_PACKAGE_PIDFILE names another pid file and skips the service (the lab's own test of this).
# Must run as root.
set -euo pipefail

daemon="${1:-}"
case "$daemon" in
  miniupnpd) service=miniupnpd pid_files=(/run/miniupnpd.pid /var/run/miniupnpd.pid) ;;
  turnserver) service=coturn pid_files=(/run/turnserver.pid /var/run/turnserver.pid) ;;
  *) echo "usage: $0 miniupnpd|turnserver" >&2; exit 2 ;;
esac

if [[ -n ${UNL_PACKAGE_PIDFILE:-} ]]; then
  pid_files=("$UNL_PACKAGE_PIDFILE")
elif [[ -d /run/systemd/system ]] && systemctl cat "$service.service" >/dev/null 2>&1; then
  systemctl stop "$service.service" || true
elif [[ -x /etc/init.d/$service ]]; then
  "/etc/init.d/$service" stop || true
fi

host_net=$(readlink /proc/self/ns/net)
for file in "${pid_files[@]}"; do
  pid=$(cat "$file" 2>/dev/null) || continue
  [[ $pid =~ ^[0-9]+$ ]] || continue
  # A pid file outlives its daemon, and the number may belong to another process by now.
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$daemon" ]] || continue
  [[ $(readlink "/proc/$pid/ns/net" 2>/dev/null) == "$host_net" ]] || continue
  echo "stopping the package's $daemon (pid $pid, from $file)"
  kill "$pid"
done
