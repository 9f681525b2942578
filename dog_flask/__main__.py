"""``python -m dog_flask [--host 127.0.0.1] [--port 5050]``: serve Dog (werkzeug).

Loopback by default; any other address (the Docker image: 0.0.0.0) needs DGSYNC_API_TOKEN and
DGSYNC_WEB__ALLOWED_HOSTS, and then every page asks to sign in.
"""

from __future__ import annotations

import argparse
import signal
import sys

from core.errors import DgsyncError
from core.log import configure_logging
from core.websec import one_line
from dog_flask.app import create_app
from dog_flask.extension import close_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dog_flask", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5050)
    parser.add_argument("--debug", action="store_true", help="Flask debug mode (reloader off).")
    args = parser.parse_args(argv)
    try:
        app = create_app(bind_host=args.host)
    except DgsyncError as exc:  # one line with the fix, no traceback
        print(one_line(exc), file=sys.stderr)
        sys.exit(2)
    configure_logging(level="INFO")
    # SIGTERM (docker stop) unwinds like Ctrl-C, so the embedded Glue saves its snapshot.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        app.run(host=args.host, port=args.port, debug=args.debug, use_reloader=False, threaded=True)
    finally:
        close_app(app)


if __name__ == "__main__":
    main()
