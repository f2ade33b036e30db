"""SIGINT/SIGTERM remembered from a node executable's first line until node_main takes over.

Why: nodes/start.py imports node_main before the node's module, and node_main's own imports
(dataclasses pulls in inspect, ast, dis ...) took more than 0.3 s in one CI run on a loaded
machine; a signal in that window gave a KeyboardInterrupt traceback (SIGINT) or a bare death
(SIGTERM). This module imports nothing but ``signal``, so the window left is the interpreter's
own start-up and the package's ``__init__``. `node_main.StopRequest.install` replays what was
received here.
"""

import signal

#: signal numbers received before node_main's handlers were installed, oldest first
received: list[int] = []


def _remember(signum, _frame) -> None:
    received.append(signum)


def install() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _remember)
