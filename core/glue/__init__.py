"""Glue side: validated, rate-limited boto3 client (see docs/glue.md).

Import the submodules directly; this package imports nothing so that light users (the
mapping engine reading :mod:`core.glue.limits`) do not pay for boto3 or moto:

* :mod:`core.glue.limits`     request limits, ``LimitExceeded`` before sending
* :mod:`core.glue.ratelimit`  ``TokenBucket``
* :mod:`core.glue.session`    ``make_glue_client`` / ``build_glue_client`` from ``GlueSettings``
* :mod:`core.glue.client`     ``GlueClient``
* :mod:`core.glue.embedded`   ``start_embedded_glue`` (dog)
* :mod:`core.glue.testing`    ``GlueFaults`` (fault and fidelity layer over moto)
"""
