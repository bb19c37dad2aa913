"""delivrd's benchmark: each server in turn, driven by wrk, side by side in one run (`python -m bench`)."""
