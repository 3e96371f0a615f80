"""Device workers: the shared runtime and one package per worker type."""
