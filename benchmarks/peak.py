"""Run a command and write its peak resident memory (kilobytes, the kernel's count for that process):
``python benchmarks/peak.py OUT -- COMMAND...``; exits with the command's status.

Linux carries a process's largest resident size across fork and exec: a command started from a
large process (the benchmark suite, which holds torch and the tables it generated) reports that
process's size as its own peak. Started from this small one, it reports its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def main() -> None:
    out, separator, *command = sys.argv[1:]
    if separator != "--" or not command:
        raise SystemExit("usage: python benchmarks/peak.py OUT -- COMMAND...")
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    Path(out).write_text(str(usage.ru_maxrss))
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
