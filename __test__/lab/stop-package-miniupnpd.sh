#!/usr/bin/env bash
# Stops the router daemon Debian's `miniupnpd` package may start on the host's own network
# when it is installed (the lab needs only the binary; lab.sh and .ci/run install it and then
# call this). That one daemon only: through its service when one is installed, else by the pid
# file the package's daemon writes (miniupnpd's default, /run/miniupnpd.pid), and only while
# that pid is still a miniupnpd in this script's network namespace (the host's: lab.sh and
# .ci/run run it there; every lab router lives in a namespace of its own). Never by name: `pkill -x
# miniupnpd` also stops every lab's router on the machine (a bench running beside the tests).
# UNL_PACKAGE_PIDFILE names another pid file and skips the service (the lab's own test of this).
# Must run as root.
set -euo pipefail

pid_files=(/run/miniupnpd.pid /var/run/miniupnpd.pid)
if [[ -n ${UNL_PACKAGE_PIDFILE:-} ]]; then
  pid_files=("$UNL_PACKAGE_PIDFILE")
elif [[ -d /run/systemd/system ]] && systemctl cat miniupnpd.service >/dev/null 2>&1; then
  systemctl stop miniupnpd.service || true
elif [[ -x /etc/init.d/miniupnpd ]]; then
  /etc/init.d/miniupnpd stop || true
fi

host_net=$(readlink /proc/self/ns/net)
for file in "${pid_files[@]}"; do
  pid=$(cat "$file" 2>/dev/null) || continue
  [[ $pid =~ ^[0-9]+$ ]] || continue
  # A pid file outlives its daemon, and the number may belong to another process by now.
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == miniupnpd ]] || continue
  [[ $(readlink "/proc/$pid/ns/net" 2>/dev/null) == "$host_net" ]] || continue
  echo "stopping the package's miniupnpd (pid $pid, from $file)"
  kill "$pid"
done
