"""What the study costs: the grid projection (steps per second, time per run) and the compute
actually used.
"""
