"""Django sessions in Redis: sliding and absolute expiry, a per-user index, async."""

__version__ = "0.1.0"
