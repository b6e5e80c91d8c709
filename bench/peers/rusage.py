#!/usr/bin/env python3
"""Runs a command and reports its wall time and CPU from wait4(2):

    rusage.py CMD [ARG...]

The command's stdout and stderr pass through. The measurement goes to file descriptor 3
(which the caller opens) as one JSON line:
{"exit": n, "wall_s": s, "user_s": s, "sys_s": s, "maxrss_kb": n}.

Why not /usr/bin/time: GNU time prints user and sys with two decimals (10 ms), coarser
than one probe. wait4's rusage has microsecond resolution and covers the child and every
descendant it waited for. Wall time runs from just before the spawn to the moment wait4
returns, so this wrapper's own interpreter start is not in it.
"""

import json
import os
import sys
import time


def main():
    argv = sys.argv[1:]
    if not argv:
        print("usage: rusage.py CMD [ARG...]", file=sys.stderr)
        return 2
    report = os.fdopen(3, "w")
    os.set_inheritable(3, False)
    start = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    report.write(
        json.dumps(
            {
                "exit": code,
                "wall_s": wall,
                "user_s": usage.ru_utime,
                "sys_s": usage.ru_stime,
                "maxrss_kb": usage.ru_maxrss,
            }
        )
        + "\n"
    )
    report.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
