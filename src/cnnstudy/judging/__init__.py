"""Stage 5: tidy tables of every run, the config's questions answered and the reports' claims
judged.
"""
