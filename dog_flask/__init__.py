"""Dog: the Flask + htmx developer UI over the embedded default.

``dog_flask.app.create_app(settings=None) -> Flask``; ``python -m dog_flask`` serves it on
http://127.0.0.1:5050.
"""
