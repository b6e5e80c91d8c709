#!/usr/bin/env bash
# Makes sure the Debian packages the integration tests need are there:
#   test/servers/packages.sh          install what is missing (apt-get; sudo when not root)
#   test/servers/packages.sh --check  only report; exit 1 when something is missing
# `npm test` (scripts/run-tests.mjs) runs it before it starts the test servers, so a new
# machine needs nothing but `npm ci && npm test`. No package's own daemon is started:
# policy-rc.d forbids it during the install, and one that listens anyway is stopped (the
# tests run their own instances on high ports).
# Courier and Cyrus are not installed: like dovecot-pop3d they provide pop3-server and
# conflict with it, so their packages (UNPACKED_PACKAGES in lib.sh) are downloaded and
# unpacked into $POP3_TEST_CACHE_DIR (default /var/cache/pop3-monitor-test-servers) once,
# and courier.sh and cyrus.sh run them from there. Their libraries are installed normally.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=(
  dovecot-core dovecot-pop3d # the POP3 server of most tests
  postfix                    # SMTP for alert mail and delivery loops
  prometheus                 # prometheus and promtool
  prometheus-alertmanager    # alertmanager and amtool
  openssl ca-certificates    # the test CA and certificates
  apache2-utils curl         # htpasswd -B (bcrypt users), curl against the HTTPS endpoints
  chromium                   # the status page in a real browser (driven by playwright-core)
  # libraries of the unpacked Courier and Cyrus (no daemons, no conflicts)
  libcourier-unicode4 libidn12 libltdl7 libpcre3 libical3 libxapian30 libjansson4 libpq5
  libsasl2-modules libsasl2-modules-db # SASL PLAIN/LOGIN and the sasldb of Cyrus
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
unpacked=yes
unpacked_ready || unpacked=no
if [ "${#missing[@]}" -eq 0 ] && [ "$unpacked" = yes ]; then
  exit 0
fi
if [ "${1:-}" = --check ]; then
  [ "${#missing[@]}" -eq 0 ] || echo "test packages missing: ${missing[*]}" >&2
  [ "$unpacked" = yes ] || echo "test packages not unpacked in $UNPACKED: ${UNPACKED_PACKAGES[*]}" >&2
  exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "test packages missing: ${missing[*]} ${UNPACKED_PACKAGES[*]}; run test/servers/packages.sh as root" >&2
    exit 1
  fi
fi

# unpack_packages: apt-get download + dpkg -x of UNPACKED_PACKAGES into a new directory,
# which then replaces $UNPACKED whole (a half-done unpack is never used). One line on
# failure.
unpack_packages() {
  local work log
  "${SUDO[@]}" mkdir -p "$CACHE_DIR"
  exec 8>"$CACHE_DIR/.lock"
  flock -w 300 8 || { echo "test packages: another unpack holds $CACHE_DIR/.lock" >&2; exit 1; }
  unpacked_ready && return 0 # done by another run meanwhile
  "${SUDO[@]}" rm -rf "$CACHE_DIR"/new.* # what an earlier failed attempt left (its log)
  echo "test packages: downloading and unpacking ${UNPACKED_PACKAGES[*]} into $UNPACKED"
  work="$("${SUDO[@]}" mktemp -d "$CACHE_DIR/new.XXXXXX")"
  log="$work/apt.log"
  "${SUDO[@]}" mkdir -p "$work/debs" "$work/root"
  # apt's download sandbox user must be able to write there.
  ! getent passwd _apt >/dev/null || "${SUDO[@]}" chown _apt "$work/debs"
  local download=(bash -c 'cd "$1" && shift && apt-get download -q "$@"' _ "$work/debs" "${UNPACKED_PACKAGES[@]}")
  if ! "${SUDO[@]}" "${download[@]}" >"$log" 2>&1; then
    "${SUDO[@]}" apt-get update -q >>"$log" 2>&1 || true
    if ! "${SUDO[@]}" "${download[@]}" >>"$log" 2>&1; then
      echo "test packages: apt-get download ${UNPACKED_PACKAGES[*]} failed: $(grep -E '^E:' "$log" | head -n 1 || tail -n 1 "$log") (full log: $log)" >&2
      exit 1
    fi
  fi
  local deb
  for deb in "$work"/debs/*.deb; do
    "${SUDO[@]}" dpkg -x "$deb" "$work/root" ||
      { echo "test packages: dpkg -x $deb failed (see $log)" >&2; exit 1; }
  done
  {
    echo "${UNPACKED_PACKAGES[*]}"
    for deb in "$work"/debs/*.deb; do dpkg-deb -f "$deb" Package Version | paste -sd' '; done
  } | "${SUDO[@]}" tee "$work/root/.unpacked-packages" >/dev/null
  "${SUDO[@]}" rm -rf "$UNPACKED"
  "${SUDO[@]}" mv "$work/root" "$UNPACKED"
  "${SUDO[@]}" rm -rf "$work"
  echo "test packages: unpacked into $UNPACKED"
}

if [ "${#missing[@]}" -eq 0 ]; then
  unpack_packages
  exit 0
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
[ "$unpacked" = yes ] || unpack_packages
