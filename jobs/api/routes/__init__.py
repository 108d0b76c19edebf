"""The HTTP routes, one module per concern; each exposes a `setup_*(app)` function."""
