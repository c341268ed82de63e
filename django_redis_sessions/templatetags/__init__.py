"""The app's template tag libraries (``session_times``: moments on the pages)."""
