"""``python -m doubles.emulator [--host H] [--port P] [--synthetic-assets N] [--seed S]``."""

from __future__ import annotations

import argparse
import sys

from core.errors import DgsyncError
from core.settings import EmulatorSettings

from .server import banner, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m doubles.emulator",
                                     description="Serve the SAP Datasphere emulator until Ctrl-C.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8400, help="0 picks a free port")
    parser.add_argument("--synthetic-assets", type=int, default=0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--token-lifetime", type=int, default=None, help="access-token lifetime in seconds")
    args = parser.parse_args(argv)
    try:
        settings = EmulatorSettings(host=args.host, port=args.port, synthetic_assets=args.synthetic_assets,
                                    seed=args.seed)
        serve(settings, on_ready=lambda emu: print(banner(emu), flush=True), token_lifetime_s=args.token_lifetime)
    except DgsyncError as exc:
        print(f"error: {exc.message}\nhint: {exc.hint}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
