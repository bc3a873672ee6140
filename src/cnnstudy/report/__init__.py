"""Stage 6: figures, report pages, the front page, notebooks and what the nets look at."""
