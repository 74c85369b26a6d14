"""Fixtures for the unit tests (environment settings are in the top-level conftest.py)."""
import matplotlib

matplotlib.use("Agg")  # unit tests draw figures without a screen
