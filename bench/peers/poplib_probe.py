#!/usr/bin/env python3
"""The peer a person would write with Python's standard library: one POP3 session with
USER, PASS, STAT, NOOP, UIDL, TOP 1 0, QUIT, one command at a time (poplib has no
pipelining). Used by bench/probe-latency.ts as the reference for the wall-time target.

    POP3_PASSWORD=... poplib_probe.py --host H --port P --user U [--tls none|starttls|implicit]
        [--cafile CA] [--repeat N]

The password comes from the environment so it never shows in `ps`. Prints one JSON line
per session: {"ok", "wall_s", "cpu_s", "messages"}; wall and CPU are of the session alone
(after the interpreter started), so --repeat N gives the warm numbers and a single run
timed from outside gives the cold-process one.
"""

import argparse
import json
import os
import poplib
import ssl
import sys
import time


def one_session(args, context):
    if args.tls == "implicit":
        conn = poplib.POP3_SSL(args.host, args.port, timeout=10, context=context)
    else:
        conn = poplib.POP3(args.host, args.port, timeout=10)
        if args.tls == "starttls":
            conn.stls(context=context)
    conn.user(args.user)
    conn.pass_(os.environ["POP3_PASSWORD"])
    count, _octets = conn.stat()
    conn.noop()
    conn.uidl()
    if count > 0:
        conn.top(1, 0)
    conn.quit()
    return count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    parser.add_argument("--cafile")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    context = None
    if args.tls != "none":
        # Verification on, as pop3-monitor does: the test CA, host name checked.
        context = ssl.create_default_context(cafile=args.cafile)
    failed = False
    for _ in range(args.repeat):
        wall0 = time.perf_counter()
        cpu0 = time.process_time()
        try:
            count = one_session(args, context)
            ok = True
        except Exception as error:  # noqa: BLE001 - a failed probe is a result, not a crash
            count = None
            ok = False
            print(f"poplib_probe: {type(error).__name__}: {error}", file=sys.stderr)
        out = {
            "ok": ok,
            "wall_s": time.perf_counter() - wall0,
            "cpu_s": time.process_time() - cpu0,
            "messages": count,
        }
        print(json.dumps(out), flush=True)
        failed = failed or not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
