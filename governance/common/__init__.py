"""What all three apps share and no app owns: words, storable values, SQL row loading, database lock
handling, Prometheus counters and the API's error, parsing and representation helpers.

The lowest layer (pyproject.toml [tool.importlinter]): it imports none of the apps. It ships with them in
the package a host project installs (docs/embedding.md); ``config/`` is this repository's own project and
does not.
"""
