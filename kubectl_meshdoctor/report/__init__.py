"""Findings, the report, and the renderers that print it. Renderers never compute anything."""
