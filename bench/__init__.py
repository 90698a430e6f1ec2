"""Benchmarks: scripts that print tables (never run by the test suite)."""
