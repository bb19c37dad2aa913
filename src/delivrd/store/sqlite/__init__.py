"""SQLite storage (the embedded default)."""
