"""Comparing runs of the study: the results bundle a run publishes, and a run compared with a reference."""
