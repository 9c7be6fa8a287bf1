"""`make load`: a Locust load generator for the Bookstore on the local cloud.

Weighted buyer journeys (browse, view a book, orders that conclude, are declined, find no stock,
name an unknown book, are retried with their Idempotency-Key), each request with a `traceparent`
of its own and `baggage: synthetic_request=true`, as the OpenTelemetry Demo's load generator
sends them. `python -m bookstore_dev.load` runs Locust as its own process (gevent patches what it
imports) and prints a summary; the locustfile is `bookstore_dev/load/locustfile.py`.
"""
