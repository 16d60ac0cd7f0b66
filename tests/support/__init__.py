"""Helpers shared by more than one test directory (importable as ``support``; see tests/conftest.py)."""
