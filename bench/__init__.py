"""Benchmarks for `make bench`: each prints one line, a ratio against an anchor measured in the same run."""
