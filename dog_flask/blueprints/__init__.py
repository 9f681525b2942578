"""One blueprint per area; templates under ``templates/dog/<area>/``."""

from dog_flask.blueprints import (
    audit,
    catalog,
    compare,
    console,
    debug,
    glue,
    home,
    lineage,
    plan,
    runs,
)

__all__ = ["audit", "catalog", "compare", "console", "debug", "glue", "home", "lineage", "plan", "runs"]
