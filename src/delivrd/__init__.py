"""delivrd: durable receiver for Tencent Cloud SMS delivery-status callbacks."""

__version__ = "0.1.0"
