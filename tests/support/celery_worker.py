"""Pytest plugin: shared fixtures (see module docstrings)."""
