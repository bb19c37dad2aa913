"""Receipts flow out: events kept in the database, sent to each endpoint at least once (docs/forwarding.md)."""
