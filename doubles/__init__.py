"""Test doubles of dgsync (never imported by ``core/``): the Datasphere emulator (real HTTP,
the documented API), embedded Glue (moto in server mode), the Glue fault layer and counting
proxy, and a manual clock.

They serve the embedded default (``make run``, Dog) and the tests. They need the ``dog`` extra
(``pip install 'dgsync[dog]'``): starlette/uvicorn for the emulator, ``moto[server]`` for Glue.
"""
