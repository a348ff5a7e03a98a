"""The ``newsrift`` command (``newsrift.cli.main``) and what only the command uses: local services, the demo,
search, watchlists, feeds and ingest, dead letters."""
