"""Wolf: the FastAPI monitoring dashboard and API against real systems.

``wolf_fastapi.app.create_app(settings=None) -> FastAPI``; ``python -m wolf_fastapi`` serves it.
This module imports nothing heavy, so ``core.http`` can be shared with Dog.
"""
