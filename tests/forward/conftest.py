"""The stream fixtures (`stream`: a Redis stream; `subject`: a NATS subject and its JetStream stream)."""

from tests.forward.streams import stream, subject

__all__ = ["stream", "subject"]
