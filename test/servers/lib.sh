# Shared by start.sh, stop.sh and postfix.sh (sourced, not run). Names every path and
# port of the loopback test servers; test/servers/env.ts mirrors these values.

RUNTIME="${POP3_TEST_SERVERS_DIR:-/tmp/pop3-monitor-servers}"
SERVERS_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SERVERS_SRC/../.." && pwd)"

HOST=127.0.0.1
# Every port is the base plus the service's usual number (10110 = POP3 110); another
# base (POP3_TEST_PORT_BASE=20000) runs a second, independent set of servers beside the
# first, together with its own POP3_TEST_SERVERS_DIR.
PORT_BASE="${POP3_TEST_PORT_BASE:-10000}"
[[ "$PORT_BASE" =~ ^[0-9]+$ ]] && [ "$PORT_BASE" -ge 1024 ] && [ "$PORT_BASE" -le 56000 ] ||
  { echo "test servers: POP3_TEST_PORT_BASE must be a number from 1024 to 56000" >&2; exit 1; }
POP3_PORT=$((PORT_BASE + 110))
POP3S_PORT=$((PORT_BASE + 995))
SMTP_PORT=$((PORT_BASE + 25))
SUBMISSION_PORT=$((PORT_BASE + 587))
# The other POP3 servers: POP3 (STLS offered) and implicit TLS, 1000 and 2000 above.
COURIER_POP3_PORT=$((PORT_BASE + 1110))
COURIER_POP3S_PORT=$((PORT_BASE + 1995))
CYRUS_POP3_PORT=$((PORT_BASE + 2110))
CYRUS_POP3S_PORT=$((PORT_BASE + 2995))
# The OAuth2 authorization server (oidc-provider) that Dovecot's passdb oauth2 asks.
OAUTH_PORT=$((PORT_BASE + 9444))

MAIL_OWNER=pop3test
MARKER=".pop3-monitor-test-servers"

DOVECOT_DIR="$RUNTIME/dovecot"
DOVECOT_CONF="$DOVECOT_DIR/dovecot.conf"
DOVECOT_BASE="$DOVECOT_DIR/run"
DOVECOT_PID="$DOVECOT_BASE/master.pid"
DOVECOT_LOG="$RUNTIME/logs/dovecot.log"

OAUTH_DIR="$RUNTIME/oauth"
OAUTH_PID="$OAUTH_DIR/oauth.pid"
OAUTH_LOG="$RUNTIME/logs/oauth.log"

POSTFIX_DIR="$RUNTIME/postfix"
POSTFIX_CONF="$POSTFIX_DIR/etc"
POSTFIX_QUEUE="$POSTFIX_DIR/spool"
POSTFIX_DATA="$POSTFIX_DIR/data"
POSTFIX_PID="$POSTFIX_QUEUE/pid/master.pid"
POSTFIX_LOG="$RUNTIME/logs/postfix.log"

# Courier and Cyrus conflict with dovecot-pop3d as Debian packages (all provide
# pop3-server), so packages.sh downloads and unpacks them here instead of installing them;
# this cache outlives the runtime dir (which start.sh wipes) and is shared by every set.
CACHE_DIR="${POP3_TEST_CACHE_DIR:-/var/cache/pop3-monitor-test-servers}"
UNPACKED="$CACHE_DIR/root"
UNPACKED_STAMP="$UNPACKED/.unpacked-packages"
UNPACKED_PACKAGES=(
  courier-pop courier-base courier-authdaemon courier-authlib courier-authlib-userdb
  cyrus-common cyrus-pop3d sasl2-bin
)

COURIER_DIR="$RUNTIME/courier"
COURIER_LOG="$RUNTIME/logs/courier.log"
CYRUS_DIR="$RUNTIME/cyrus"
CYRUS_LOG="$RUNTIME/logs/cyrus.log"
# Users of Courier and Cyrus (password <user>-pass-1, as on Dovecot).
INTEROP_USERS=(alice empty)

die() {
  echo "test servers: $*" >&2
  exit 1
}

# The runtime dir is deleted wholesale by start.sh; refuse anything that does not look
# like ours so a mistyped POP3_TEST_SERVERS_DIR cannot wipe someone's files.
check_runtime_path() {
  case "$RUNTIME" in
    /*) ;;
    *) die "POP3_TEST_SERVERS_DIR must be an absolute path (got '$RUNTIME')" ;;
  esac
  local depth
  depth="$(tr -cd '/' <<<"${RUNTIME%/}" | wc -c)"
  [ "$depth" -ge 2 ] || die "refusing to use '$RUNTIME' as the runtime dir: too close to /"
  if [ -d "$RUNTIME" ] && [ ! -e "$RUNTIME/$MARKER" ] && [ -n "$(ls -A "$RUNTIME")" ]; then
    die "'$RUNTIME' exists, is not empty and was not made by start.sh: refusing to touch it"
  fi
}

require_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (Dovecot and Postfix switch users; CI runs as root)"
}

# pid_alive PIDFILE COMM: true when the pid file names a live process of that name, so a
# stale pid file whose number was reused by another process is never signalled.
pid_alive() {
  local file="$1" comm="$2" pid
  [ -f "$file" ] || return 1
  pid="$(awk 'NR == 1 { print $1 }' "$file" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] || return 1
  # A killed daemon stays a zombie until its parent (often pid 1) reaps it: that is gone.
  local stat
  stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [ "${stat:0:1}" != Z ]
}

# stop_by_pidfile NAME PIDFILE COMM: SIGTERM, wait up to 10 s, then SIGKILL the group.
stop_by_pidfile() {
  local name="$1" file="$2" comm="$3" pid i
  if ! pid_alive "$file" "$comm"; then
    return 1
  fi
  pid="$(awk 'NR == 1 { print $1 }' "$file")"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    pid_alive "$file" "$comm" || return 0
    sleep 0.05
  done
  echo "$name: master $pid ignored SIGTERM for 10 s, sending SIGKILL" >&2
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  return 0
}

# fixture_epoch FILE: seconds since the epoch of the message's Date: header.
fixture_epoch() {
  local date
  date="$(sed -n 's/^Date: //p' "$1" | head -n 1 | tr -d '\r')"
  date -u -d "$date" +%s || die "bad Date: in $1"
}

# alice_fixtures: the fixture messages of alice, oldest Date: first.
alice_fixtures() {
  local file
  for file in "$REPO_ROOT"/test/fixtures/mail/alice/*.eml; do
    echo "$(fixture_epoch "$file") $file"
  done | sort -n | cut -d' ' -f2-
}

# unpacked_ready: packages.sh has unpacked every package of UNPACKED_PACKAGES.
unpacked_ready() {
  [ -f "$UNPACKED_STAMP" ] && [ "$(head -n 1 "$UNPACKED_STAMP")" = "${UNPACKED_PACKAGES[*]}" ]
}

# port_open PORT: a TCP connect to 127.0.0.1:PORT succeeds.
port_open() {
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# banner PORT: the first line the server sends, or nothing within 3 s.
banner() {
  timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/$1 && head -n 1 <&3" 2>/dev/null | tr -d '\r'
}

# wait_banner NAME PORT PREFIX LOG: waits (bounded, 20 s) for a greeting starting with
# PREFIX; on failure names the server and shows the tail of its log.
wait_banner() {
  local name="$1" port="$2" prefix="$3" log="$4" i line=""
  for ((i = 0; i < 200; i++)); do
    if port_open "$port"; then
      [ -z "$prefix" ] && return 0
      line="$(banner "$port")"
      [[ "$line" == "$prefix"* ]] && return 0
    fi
    sleep 0.1
  done
  echo "test servers: $name did not answer on $HOST:$port within 20 s (last greeting: '${line}')" >&2
  echo "--- last lines of $log ---" >&2
  tail -n 30 "$log" >&2 2>/dev/null || echo "(no log file)" >&2
  exit 1
}

# wait_closed NAME PORT: after a stop, the port must stop accepting (bounded, 10 s).
wait_closed() {
  local name="$1" port="$2" i
  for ((i = 0; i < 200; i++)); do
    port_open "$port" || return 0
    sleep 0.05
  done
  die "$name: something still listens on $HOST:$port after stopping"
}

postfix_running() {
  pid_alive "$POSTFIX_PID" master
}

dovecot_running() {
  pid_alive "$DOVECOT_PID" dovecot
}

postfix_stop() {
  if stop_by_pidfile postfix "$POSTFIX_PID" master; then
    wait_closed postfix "$SMTP_PORT"
    wait_closed postfix "$SUBMISSION_PORT"
    echo "postfix: stopped"
  else
    echo "postfix: not running"
  fi
}

postfix_start() {
  [ -f "$POSTFIX_CONF/main.cf" ] || die "postfix: no config in $POSTFIX_CONF: run test/servers/start.sh first"
  if postfix_running; then
    echo "postfix: already running (pid $(awk 'NR == 1 { print $1 }' "$POSTFIX_PID"))"
    return 0
  fi
  # The queue was checked by the first start; quick-start skips postfix-script's
  # integrity scan (a find over the queue) so a restart after an outage is fast.
  [ "${1:-}" = quick ] && touch "$POSTFIX_QUEUE/quick-start"
  if ! postfix -c "$POSTFIX_CONF" start >>"$POSTFIX_DIR/start.out" 2>&1 9>&-; then
    echo "--- postfix start output ---" >&2
    tail -n 20 "$POSTFIX_DIR/start.out" >&2
    tail -n 20 "$POSTFIX_LOG" >&2 2>/dev/null || true
    die "postfix failed to start"
  fi
  wait_banner "postfix smtp" "$SMTP_PORT" 220 "$POSTFIX_LOG"
  wait_banner "postfix submission" "$SUBMISSION_PORT" 220 "$POSTFIX_LOG"
  echo "postfix: smtp $HOST:$SMTP_PORT, submission (STARTTLS, AUTH) $HOST:$SUBMISSION_PORT, log $POSTFIX_LOG"
}
