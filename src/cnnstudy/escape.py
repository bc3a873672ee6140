"""Text from a config or a dataset made inert for each place it is written: one helper per
output context, and every free string goes through the helper of the context it lands in.

Claims quote other people's reports, and configs are shared between labs: a quote is data,
never markup or code. Snakemake renders the report's pages with an unsandboxed Jinja2
environment before docutils reads them, and embeds the result in ``<script>`` blocks as JSON
(``json.dumps`` leaves ``</script>`` alone), so a string must be inert in all of those at once.

- :func:`rst_text`: reStructuredText (and so the Jinja pass over it, and the HTML docutils
  writes): every ASCII punctuation character is backslash-escaped, so no inline markup, role,
  link, directive or list can start, and no ``{{``, ``{%`` or ``{#`` can form.
- :func:`html_text`: HTML text or attribute values, with braces as entities (Jinja-inert).
- :func:`markdown_text`: Markdown (the notebooks' cells), which lets raw HTML through.
- :func:`script_json`: a JSON value inside a ``<script>`` block.
- matplotlib: :func:`plain_matplotlib_text` turns mathtext off, so ``$...$`` is shown as written.
"""

from __future__ import annotations

import json
import string

_PUNCTUATION = frozenset(string.punctuation)
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;", "{": "&#123;", "}": "&#125;"}


def one_line(text) -> str:
    """Line breaks and tabs as spaces, ends stripped: a string can never start a new block."""
    return " ".join(str(text).split())


def rst_text(text) -> str:
    """``text`` as literal reStructuredText inline text (also inert for Jinja)."""
    return "".join("\\" + ch if ch in _PUNCTUATION else ch for ch in one_line(text))


def html_text(text) -> str:
    """``text`` as literal HTML text or attribute value (also inert for Jinja)."""
    return "".join(_HTML.get(ch, ch) for ch in str(text))


def markdown_text(text) -> str:
    """``text`` as literal Markdown inline text: HTML's specials as entities (Markdown passes
    raw HTML through), the rest of ASCII punctuation backslash-escaped."""
    return "".join(_HTML[ch] if ch in _HTML else "\\" + ch if ch in _PUNCTUATION else ch for ch in one_line(text))


def script_json(value) -> str:
    """``value`` as JSON that cannot end the ``<script>`` block it is written in."""
    text = json.dumps(value)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def plain_matplotlib_text() -> None:
    """Every matplotlib text shown as written: a title holding ``$`` is not parsed as mathtext
    (an unknown command there fails the figure late, in the renderer)."""
    import matplotlib

    matplotlib.rcParams["text.parse_math"] = False
