"""Pushes (one request body and what was made of it) and the group commit that makes them durable."""
