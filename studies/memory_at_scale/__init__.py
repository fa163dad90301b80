"""Where does a large fit's peak memory come from? Resident memory (now and peak) at each
progress event of a fit on synthetic data, against the data's own size.

    python -m studies.memory_at_scale.trace --n=300000 --method=idec

The bound the library keeps: peak at most 2.5 times the data (``benchmarks.scaling``).
"""
