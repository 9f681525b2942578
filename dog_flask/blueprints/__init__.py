"""One blueprint per area; templates under ``templates/dog/<area>/``."""

from dog_flask.blueprints import catalog, compare, glue, home, plan, runs

__all__ = ["catalog", "compare", "glue", "home", "plan", "runs"]
