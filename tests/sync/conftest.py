"""Sync tests: moto in server mode over HTTP (see fixtures_glue)."""

from fixtures_glue import *  # noqa: F403
