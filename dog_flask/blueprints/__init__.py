"""One blueprint per area; templates under ``templates/dog/<area>/``."""
