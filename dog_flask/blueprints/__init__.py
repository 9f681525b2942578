"""One blueprint per area; templates under ``templates/dog/<area>/``."""

from dog_flask.blueprints import catalog, home, plan, runs

__all__ = ["catalog", "home", "plan", "runs"]
