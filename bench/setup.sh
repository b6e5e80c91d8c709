#!/usr/bin/env bash
# Installs the peers the benchmarks compare pop3-monitor with (Debian packages):
#   prometheus-blackbox-exporter  tcp prober with a POP3 query_response login
#   monitoring-plugins-basic      check_pop (greeting only)
#   time                          /usr/bin/time -f for a child's wall and user+sys CPU
# python3 (poplib is in its standard library) must already be there.
# Only what is missing is installed; run as root. `--check` only reports, installs nothing.
set -euo pipefail

check_only=false
[[ "${1:-}" == "--check" ]] && check_only=true

missing=()
command -v prometheus-blackbox-exporter >/dev/null 2>&1 || missing+=(prometheus-blackbox-exporter)
[[ -x /usr/lib/nagios/plugins/check_pop ]] || missing+=(monitoring-plugins-basic)
[[ -x /usr/bin/time ]] || missing+=(time)

if ! command -v python3 >/dev/null 2>&1; then
  echo "bench/setup.sh: python3 not found (the poplib peer needs it)" >&2
  exit 1
fi

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "bench/setup.sh: all peers present"
  exit 0
fi
if $check_only; then
  echo "bench/setup.sh: missing: ${missing[*]}" >&2
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "bench/setup.sh: missing ${missing[*]}; run as root to install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# The package lists may be absent on a fresh machine; update once when apt knows nothing.
if ! apt-cache show "${missing[0]}" >/dev/null 2>&1; then
  apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The Debian package starts its own service on :9115 where there is an init system; the
# benchmark runs its own instance on another port with its own config, so stop that one.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus-blackbox-exporter 2>/dev/null; then
  systemctl stop prometheus-blackbox-exporter || true
fi
echo "bench/setup.sh: installed ${missing[*]}"
