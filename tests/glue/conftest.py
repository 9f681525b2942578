"""Glue tests run against moto in server mode (real HTTP on 127.0.0.1): see fixtures_glue."""

from fixtures_glue import *  # noqa: F403
