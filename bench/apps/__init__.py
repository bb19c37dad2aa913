"""The baselines delivrd is measured against (see docs/performance.md)."""
