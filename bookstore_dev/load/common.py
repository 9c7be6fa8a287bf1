"""What the launcher, the locustfile and the summary share; nothing here imports Locust, so the
launcher and the summary stay free of gevent's monkey-patching (and importable by tests)."""

from __future__ import annotations

import ipaddress
import secrets
from urllib.parse import urlsplit

DEFAULT_HOST = "http://127.0.0.1:3000"
REQUESTS_LOG = "requests.jsonl"  # one line per request: journey, route, trace and span ids, status, outcome
STATS_PREFIX = "locust"  # Locust's --csv prefix in the output folder: locust_stats.csv, locust_failures.csv

# The journeys, by the label each request carries in its context (and the requests log).
BROWSE = "browse the catalogue"
VIEW = "view a book"
ORDER_APPROVED = "order, approved card"
ORDER_DECLINED = "order, declined card"
ORDER_OUT_OF_STOCK = "order, out of stock"
ORDER_UNKNOWN_BOOK = "order, unknown book"
ORDER_RETRIED = "order retried, same Idempotency-Key"
JOURNEYS = (BROWSE, VIEW, ORDER_APPROVED, ORDER_DECLINED, ORDER_OUT_OF_STOCK, ORDER_UNKNOWN_BOOK, ORDER_RETRIED)


def is_loopback(url: str) -> bool:
    """True for an http(s) URL on this machine: 127.0.0.0/8, ::1 or localhost. The generator is for
    a laptop's local cloud; anything else is someone else's server."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:  # a name other than localhost: it could resolve anywhere
        return False


def refusal(url: str) -> str:
    return f"load: refusing {url!r}: the load generator only targets a local cloud on this machine (127.0.0.1, localhost or [::1])"


def new_traceparent() -> tuple[str, str, str]:
    """A W3C traceparent for a new, sampled trace, its trace id and its (client) span id: the root
    an instrumented client would start, so the function's SERVER span is its child in a trace the
    generator named."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)  # random: never the all-zero ids the spec forbids, in practice
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id
