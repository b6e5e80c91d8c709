#!/usr/bin/env bash
# Stops the loopback test servers started by start.sh. Never fails when they are not
# running. Leaves the runtime dir in place (start.sh rebuilds it).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

postfix_stop
bash "$SERVERS_SRC/courier.sh" stop
bash "$SERVERS_SRC/cyrus.sh" stop

if stop_by_pidfile oauth "$OAUTH_PID" node; then
  wait_closed oauth "$OAUTH_PORT"
  echo "oauth: stopped"
else
  echo "oauth: not running"
fi

if stop_by_pidfile dovecot "$DOVECOT_PID" dovecot; then
  wait_closed dovecot "$POP3_PORT"
  wait_closed dovecot "$POP3S_PORT"
  echo "dovecot: stopped"
else
  echo "dovecot: not running"
fi
