"""Helpers of scripts/bench.py: the tools and their workloads, whole-process timing, the report."""
