#!/usr/bin/env bash
# Makes sure the Debian packages the integration tests need are installed:
#   test/servers/packages.sh          install what is missing (apt-get; sudo when not root)
#   test/servers/packages.sh --check  only report; exit 1 when something is missing
# `npm test` (scripts/run-tests.mjs) runs it before it starts the test servers, so a new
# machine needs nothing but `npm ci && npm test`. No package's own daemon is started:
# policy-rc.d forbids it during the install, and one that listens anyway is stopped (the
# tests run their own instances on high ports).
set -euo pipefail

PACKAGES=(
  dovecot-core dovecot-pop3d # the POP3 server of most tests
  postfix                    # SMTP for alert mail and delivery loops
  prometheus                 # prometheus and promtool
  prometheus-alertmanager    # alertmanager and amtool
  openssl ca-certificates    # the test CA and certificates
)
# service name → the default ports its package would listen on
declare -A SERVICE_PORTS=(
  [dovecot]="110 143 993 995"
  [postfix]="25"
  [prometheus]="9090"
  [prometheus-alertmanager]="9093 9094"
)

missing_packages() {
  local pkg status
  for pkg in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
    [ "$status" = installed ] || echo "$pkg"
  done
}

command -v dpkg-query >/dev/null ||
  { echo "test packages: this is not a Debian-like system (no dpkg-query); install ${PACKAGES[*]} by hand" >&2; exit 1; }

mapfile -t missing < <(missing_packages)
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "${1:-}" = --check ]; then
  echo "test packages missing: ${missing[*]}" >&2
  exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "test packages missing: ${missing[*]}; install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

echo "test packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# start.sh writes its own main.cf: the package must not ask or configure anything.
echo 'postfix postfix/main_mailer_type select No configuration' | "${SUDO[@]}" debconf-set-selections
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  # exit 101 = "action forbidden": invoke-rc.d then starts no service during the install.
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod 755 "$policy"
  trap '"${SUDO[@]}" rm -f "$policy"' EXIT
fi
# Only refresh the package lists when the install cannot find something.
if ! "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

for service in "${!SERVICE_PORTS[@]}"; do
  for port in ${SERVICE_PORTS[$service]}; do
    if listening "$port"; then
      echo "test packages: stopping the package's $service service (it listens on port $port)"
      "${SUDO[@]}" service "$service" stop || "${SUDO[@]}" invoke-rc.d "$service" stop || true
      break
    fi
  done
done

mapfile -t still < <(missing_packages)
if [ "${#still[@]}" -gt 0 ]; then
  echo "test packages: still missing after apt-get: ${still[*]}" >&2
  exit 1
fi
echo "test packages: installed"
