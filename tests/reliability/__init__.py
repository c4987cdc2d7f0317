"""Harness helpers for the reliability tests and ``scripts/crashtest.py`` (no pytest fixtures here)."""
