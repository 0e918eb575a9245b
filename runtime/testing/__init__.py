"""Contract testing: fuzz campaigns, invariant campaigns, fuel reports and snapshots,
coverage, and sessions saved as regression tests. No UI: the shell parses and renders."""
