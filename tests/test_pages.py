import re

import numpy as np
import pandas as pd

from cnnstudy import front_page, pages


def test_table_page_is_self_contained_sortable_and_shows_every_cell():
    frame = pd.DataFrame({"run": ["a", "b"], "accuracy": [0.91234, np.nan], "n": [5, 1]})
    html = pages.html_table(frame, "Runs", "a note")
    assert html.count("<tr") == 3 and "0.9123" in html and "a note" in html
    assert 'addEventListener("click"' in html and not re.search(r"(src|href)=\"https?://", html)


def test_front_page_renders_answers_and_reported_numbers_as_tables_with_a_demo_banner():
    answers = pd.DataFrame(
        [
            dict(
                study="s",
                question="q?",
                answer="inconclusive",
                verdict="inconclusive",
                mean_difference=0.1,
                ci_low=-0.2,
                ci_high=0.4,
                n=3,
                metric="test accuracy",
            )
        ]
    )
    reported = pd.DataFrame(
        [
            dict(
                study="s",
                model="m",
                reported=0.6,
                reported_metric="test accuracy",
                ours_mean=0.5,
                ci_low=0.4,
                ci_high=0.6,
                n=3,
                our_metric="test accuracy (best-val epoch)",
                diverged=0,
                reported_inside_ours="yes",
            )
        ]
    )
    runs = pd.DataFrame([dict(study="s", seed=s, status="completed") for s in range(3)])
    page = front_page.render({"s": {"title": "A study", "source": "seed 9"}}, answers, reported, runs, True, "intro")
    assert page.index("Demo data") < page.index("A study") < page.index("intro")
    assert "+0.100 [-0.200, +0.400]" in page and "0.500 [0.400, 0.600]" in page and "seed 9" in page
    assert "Demo data" not in front_page.render({"s": {"title": "A study"}}, answers, reported, runs, False, "")
