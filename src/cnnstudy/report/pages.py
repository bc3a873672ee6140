"""Self-contained HTML pages of tables for the report: readable in place, sortable by a
click on a column header, and nothing fetched from the network."""

from __future__ import annotations

import pandas as pd

from cnnstudy.escape import html_text

# A claim's verdict in colour, the same in the front page's tables and the claims figures.
VERDICT_COLORS = {"reproduced": "#1a7f37", "contradicted": "#cf222e", "inconclusive": "#9a6700", "not run": "#6e7781"}

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; font-size: 13px; margin: 1em; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 3px 6px; text-align: left; }}
th {{ background: #eef; cursor: pointer; position: sticky; top: 0; }}
tr:nth-child(even) {{ background: #f8f8f8; }}
</style></head><body>
<h3>{title}</h3><p>{note} Click a column header to sort.</p>
{table}
<script>
// sort by a clicked column, numbers as numbers; no library, nothing fetched
document.querySelectorAll("th").forEach((th, col) => th.addEventListener("click", () => {{
  const body = th.closest("table").tBodies[0];
  const rows = Array.from(body.rows);
  const key = r => {{ const t = r.cells[col].innerText; const v = parseFloat(t); return isNaN(v) ? t : v; }};
  const up = th.dataset.up !== "1"; th.dataset.up = up ? "1" : "0";
  rows.sort((a, b) => (key(a) > key(b) ? 1 : key(a) < key(b) ? -1 : 0) * (up ? 1 : -1));
  rows.forEach(r => body.appendChild(r));
}}));
</script></body></html>
"""


def _table_html(frame: pd.DataFrame) -> str:
    # pandas escapes every cell (escape=True): a quote's <script> is shown, never run
    return frame.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4f}", border=0, escape=True)


def html_table(frame: pd.DataFrame, title: str, note: str = "") -> str:
    """A self-contained, sortable HTML page of ``frame`` for the report (no network)."""
    return _PAGE.format(title=html_text(title), note=html_text(note), table=_table_html(frame))


def html_sections(title: str, note: str, sections: list) -> str:
    """One page of several tables: ``sections`` is a list of (heading, explanation, frame)."""
    parts = [
        f"<h4>{html_text(head)}</h4><p>{html_text(text)}</p>\n{_table_html(frame)}" for head, text, frame in sections
    ]
    return _PAGE.format(title=html_text(title), note=html_text(note), table="\n".join(parts))
