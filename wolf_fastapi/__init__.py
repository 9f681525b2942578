"""Wolf: the FastAPI monitoring dashboard and API against real systems."""
