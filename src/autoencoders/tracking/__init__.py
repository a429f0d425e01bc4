"""Everything this project writes to MLflow, and nothing else does.

- ``store``: the client, experiments, and the retry for SQLite's "database is locked".
- ``runs``: one run's lifecycle (the one function that ends any run) and what is logged into it.
- ``logger``: Lightning's MLflow logger, writing per-epoch metrics in batches.
- ``sweeps``: a multirun's parent run, its failed jobs, its summary and best job.
"""
