"""The MA (SATORI) stand-in: the integration API, the public API v4 shapes, and its seed data."""
