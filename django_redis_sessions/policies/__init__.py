"""The engine's decisions, each in a small module, none doing Redis I/O of its own:
expiry (sliding and absolute), key rotation, client binding, the session limit,
outages, and the events they announce."""
