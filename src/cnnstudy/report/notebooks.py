"""Execute a parameterized notebook with papermill and render it to HTML for the report."""

from __future__ import annotations

import re
from pathlib import Path

# nbconvert's template loads require.js and MathJax from a CDN: a report read offline must not.
_REMOTE_SCRIPT = re.compile(r'<script[^>]*src="https?://[^"]*"[^>]*>\s*</script>\s*')
# and its mermaid loader imports modules from a CDN (these notebooks draw no diagrams)
_REMOTE_MODULE = re.compile(r"<script type=\"module\">(?:(?!</script>).)*?import\(\"https?://.*?</script>\s*", re.S)


def execute_to_html(notebook, out_notebook, out_html, parameters: dict, kernel: str = "python3") -> None:
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    Path(out_notebook).parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(notebook),
        str(out_notebook),
        parameters=parameters,
        kernel_name=kernel,
        progress_bar=False,
        cwd=str(Path(out_notebook).parent),
    )
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(str(out_notebook), as_version=4))
    Path(out_html).write_text(offline_html(body))


def offline_html(body: str) -> str:
    """The page without scripts fetched from the network."""
    return _REMOTE_MODULE.sub("", _REMOTE_SCRIPT.sub("", body))
