"""Benchmark of the obtools.oms collection's MetaDB dump and upgrade downtime window.

The entry point is benchmarks/run.py; see benchmarks/README.md.
"""
