"""`python -m dlbench` and the `dlbench` console script: the command-line interface.

Until a command starts, Ctrl-C ends the process at once with exit 130 and one line: the
CLI's imports take a tenth of a second and Typer's own another, and a KeyboardInterrupt
there would be a traceback, or (inside Typer) a silent exit. Each command then handles
Ctrl-C itself (cli/console.py: interruptible).
"""

import signal
import sys


def _interrupted_while_starting(signum: int, frame: object) -> None:
    sys.stderr.write("interrupted\n")
    raise SystemExit(130)  # not a KeyboardInterrupt: nothing on the way turns it into another


def main() -> None:
    signal.signal(signal.SIGINT, _interrupted_while_starting)
    from dlbench.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
