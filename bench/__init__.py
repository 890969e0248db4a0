"""Benchmarks; run them as modules from the project directory (python -m bench.<name>)."""
