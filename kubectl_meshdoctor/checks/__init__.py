"""Checks: pure functions from the Istio model to findings, one module per problem family.

The one place where checks are registered is `registry.CHECKS`.
"""
