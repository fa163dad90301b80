"""Experiment drivers: run, sweep and report (absl flags)."""
