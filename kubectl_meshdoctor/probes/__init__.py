"""Active probes (--probe only): port-forwards to pods, one bounded GET each. Never run by default.

Checks stay pure: probes run before them and leave their answers in the LiveEvidence.
"""
