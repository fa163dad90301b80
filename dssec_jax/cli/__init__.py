"""The command-line drivers: ``dssec-run`` (one method, several seeds), ``dssec-sweep`` (a
grid), ``dssec-report`` (tables and figures from finished runs) and ``dssec-campaign`` (the
committed result tables, resumable). In a checkout, ``python -m experiments.<name>`` runs
the same commands."""
