"""The network edge: the HTTP server's bounds and the callback routes, which answer only after the writer commits."""
