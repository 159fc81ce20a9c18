"""A wire-faithful stand-in for kintone's REST API (/k/v1/ and guest spaces), backed by SQLite."""

CONCURRENCY_LIMIT = 100  # kintone: API requests in progress at once, per domain
