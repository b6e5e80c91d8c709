#!/usr/bin/env bash
# Stops and starts only Postfix, keeping its queue, to simulate an SMTP outage:
#   test/servers/postfix.sh stop|start|status
# status exits 0 when running, 3 when stopped.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
  stop) postfix_stop ;;
  start) postfix_start quick ;;
  status)
    if postfix_running; then
      echo "postfix: running (pid $(awk 'NR == 1 { print $1 }' "$POSTFIX_PID"))"
    else
      echo "postfix: stopped"
      exit 3
    fi
    ;;
  *)
    echo "usage: $0 stop|start|status" >&2
    exit 2
    ;;
esac
