"""The group commit: pushes queue here and are made durable together, each request answered after its commit."""
