"""Stages 1-2: downloads verified by checksum, the official formats read, every dataset prepared
into one cache format (and the demo's twins).
"""
