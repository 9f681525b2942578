"""The `dgsync` command line: a thin frontend over core.services."""
