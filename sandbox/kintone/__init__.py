"""A wire-faithful stand-in for kintone's REST API (/k/v1/ and guest spaces), backed by SQLite."""
