"""The console on telemetry files alone (no cloud: its page of environments and switches is
absent), e.g. the files the Docker path's Collector writes into .local/telemetry:

    python -m localcloud.console                       http://127.0.0.1:3001 on .local/telemetry
    python -m localcloud.console --dir /some/dir --port 3002
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from localcloud.console import HOST, start_console
from localcloud.errors import LocalCloudError
from localcloud.lifetime import until_signalled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localcloud.console", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    telemetry = Path(".local/telemetry")
    parser.add_argument("--dir", type=Path, default=telemetry, help=f"traces, metrics, logs .jsonl (default {telemetry})")
    parser.add_argument("--port", type=int, default=3001)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per refresh would drown what matters
    try:
        stop = start_console(args.dir, args.port)
    except LocalCloudError as error:
        print(f"console: error: {error}", file=sys.stderr)
        return 2
    until_signalled(ready=lambda: print(f"console: http://{HOST}:{args.port} on {args.dir.resolve()} (Ctrl-C stops it)", flush=True))
    stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
