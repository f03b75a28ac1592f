"""Benchmarks run by `yuqing bench`: the real code on real data, beside a baseline in the same run."""
