"""The drivers: the Faust app, the stage runner, the worker's wiring, commits and offsets, the indexer, the web
server and health, lag, and ``analyze`` (the same stages over a file, no services)."""
