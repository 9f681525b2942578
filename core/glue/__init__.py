"""Glue side: validated, rate-limited boto3 client (see docs/glue.md).

Import the submodules directly; this package imports nothing so that light users (the
mapping engine reading :mod:`core.glue.limits`) do not pay for boto3:

* :mod:`core.glue.limits`     request limits, ``LimitExceeded`` before sending
* :mod:`core.glue.ratelimit`  ``TokenBucket``
* :mod:`core.glue.session`    ``make_glue_client`` / ``build_glue_client`` from ``GlueSettings``
* :mod:`core.glue.client`     ``GlueClient``

The embedded Glue (moto) and the fault layer are test doubles: ``doubles/glue_embedded.py``,
``doubles/glue_faults.py``.
"""
