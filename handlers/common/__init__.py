"""Pieces every handler shares: errors, payload checks, package safety, sources and outputs."""
