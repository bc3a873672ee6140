"""The models: each architecture's options, the one factory, and the hand-written convolutions with
their correctness gate.
"""
