"""The `delivrd` command."""
