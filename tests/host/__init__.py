"""A host project's own kinds, as docs/extending.md tells a host to write them (used by the kinds tests)."""
