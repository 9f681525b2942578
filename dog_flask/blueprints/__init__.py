"""One blueprint per area; templates under ``templates/dog/<area>/``."""

from dog_flask.blueprints import audit, catalog, compare, debug, glue, home, plan, runs

__all__ = ["audit", "catalog", "compare", "debug", "glue", "home", "plan", "runs"]
