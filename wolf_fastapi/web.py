"""Where the shared ``templates/`` and ``static/`` folders are, and the Jinja2 environment."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from fastapi.templating import Jinja2Templates

#: The repository (or deployment bundle) root holding ``templates/`` and ``static/``.
WEB_ROOT = Path(os.environ.get("DGSYNC_WEB_ROOT") or Path(__file__).resolve().parent.parent)
TEMPLATES_DIR = WEB_ROOT / "templates"
STATIC_DIR = WEB_ROOT / "static"


@lru_cache(maxsize=1)
def templates() -> Jinja2Templates:
    from wolf_fastapi.security import template_context
    from wolf_fastapi.ui import page_context

    env = Jinja2Templates(directory=str(TEMPLATES_DIR), context_processors=[template_context, page_context])
    from wolf_fastapi.filters import install_filters

    install_filters(env.env)
    # Templates ship with the code: no stat() of every template file per render (a page
    # extends base.html and includes partials; measurable at p95 under load).
    env.env.auto_reload = False
    return env
