"""What the pipeline reads, it does not trust: every string from a config or a dataset is data
in each context it is written to (RST and the Jinja pass over it, HTML, Markdown, <script>,
matplotlib), records are refused when their names or structure changed, and the files a
dataset is built from are refused when they point outside their folder or would decode to
gigabytes. Each case is one test on real files (the report itself: tests/test_hostile_report.py)."""

import json
import struct
import subprocess
import sys
import time
import zlib

import jinja2
import pandas as pd
import pytest
import torch
from conftest import ROOT, demo_config
from docutils.core import publish_parts

from cnnstudy import config as cc
from cnnstudy import logs, preflight, status
from cnnstudy.data import coco, datasets, formats
from cnnstudy.escape import markdown_text, rst_text, script_json
from cnnstudy.report import front_page, pages


def payloads(marker) -> list[str]:
    """What a hostile quote holds: a Jinja escape from {% raw %} that runs a shell command
    (written as text, as a config would carry it), scripts and handlers, RST directives and
    roles, link schemes, Markdown's raw HTML."""
    return [
        '{% endraw %}{{ lipsum.__globals__["os"].popen("touch ' + str(marker) + '").read() }}{% raw %}',
        "{{ 7 * 7 }} {# c #} {%- if true %}x{% endif %}",
        "</script><script>window.__pwned = 1</script>",
        '<img src=x onerror="window.__pwned = 2">',
        ".. raw:: html\n\n   <script>window.__pwned = 3</script>",
        "`x <javascript:window.__pwned=4>`_ javascript:window.__pwned=5 :raw-html:`<b>x</b>`",
        "| line | *em* **strong** ``lit`` _target `ref`_ [1]_ |sub|",
        "- a list\n#. enumerated\n\n:field: value",
    ]


def snakemake_render(rst: str) -> str:
    """The report's treatment of a page: Snakemake's unsandboxed Jinja pass, then docutils."""
    text = jinja2.Environment(trim_blocks=True, lstrip_blocks=True).from_string(rst).render(snakemake=None)
    return publish_parts(text, writer_name="html")["html_body"]


def test_rst_cells_stay_text_through_jinja_and_docutils(tmp_path):
    marker = tmp_path / "PWNED"
    frame = pd.DataFrame({"quote": payloads(marker), "n": range(len(payloads(marker)))})
    html = snakemake_render("{% raw %}\n" + front_page.list_table(frame, "title: <b>") + "{% endraw %}\n")
    assert not marker.exists()
    assert "<script" not in html and "<img" not in html and "javascript:" not in html.replace("javascript:window", "")
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html  # shown, as written
    assert "lipsum.__globals__" in html and "{{ 7 * 7 }}" in html and "<em>" not in html and "<li>" not in html


def test_the_front_page_with_hostile_quotes_titles_and_sources_runs_nothing(tmp_path):
    marker = tmp_path / "PWNED"
    hostile = payloads(marker)
    claims = pd.DataFrame({
        "claim": [f"c{i}" for i in range(len(hostile))], "report": "r1", "study": "s1", "kind": "number",
        "quote": hostile, "checked": hostile, "verdict": "inconclusive", "evidence": hostile[::-1],
        "set_up": "our reading", "robustness": "fragile", "flipped_by": hostile,
    })  # fmt: skip
    runs = pd.DataFrame({"study": ["s1"], "status": ["completed"], "seed": [0]})
    answers = pd.DataFrame(columns=["study", "question", "answer", "verdict", "mean_difference", "ci_low", "ci_high",
                                    "n", "metric"])  # fmt: skip
    reported = pd.DataFrame({"study": ["s1"], "model": ["m"], "reported": [hostile[2]], "reported_metric": [hostile[0]],
                             "ours_mean": [0.5], "pi_low": [0.4], "pi_high": [0.6], "our_metric": ["acc"], "n": [3],
                             "decimals": [2], "pi_low_rounded": [0.4], "pi_high_rounded": [0.6],
                             "diverged": [0], "reported_in_prediction_interval": ["yes"]})  # fmt: skip
    studies = {"s1": {"title": hostile[4], "source": hostile[3], "report": "r1"}}
    reports = {"r1": {"title": hostile[0], "file": hostile[2]}}
    tables = {"claims": claims, "runs": runs, "answers": answers, "reported": reported}
    html = snakemake_render(front_page.render(studies, reports, tables, demo=True, intro="intro"))
    assert not marker.exists()
    assert "<script" not in html and "<img" not in html
    assert html.count("window.__pwned = 1") >= 3  # every copy shown as text


def test_markdown_cells_show_html_and_markup_as_written(tmp_path):
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    for text in payloads(tmp_path / "x"):
        html = markdown2html_mistune(f"- **verdict**: *{markdown_text(text)}*")
        assert "<script" not in html and "<img" not in html and "<a " not in html, (text, html)
    html = markdown2html_mistune(markdown_text("a *b* `c` <i>d</i> $x$"))
    assert "<em>" not in html and "<code>" not in html and "&lt;i&gt;" in html


def test_script_json_cannot_close_its_script_block():
    value = {"quote": "</script><script>window.__pwned = 1</script> & <!--"}
    text = script_json(value)
    assert "</" not in text and "<!--" not in text and json.loads(text) == value


def test_html_pages_escape_cells_and_titles():
    """(Table pages are embedded in the report as files, never through Jinja: braces are fine.)"""
    hostile = '<img src=x onerror="window.__pwned = 2"> </script>'
    page = pages.html_table(pd.DataFrame({"quote": [hostile]}), title=hostile, note=hostile)
    assert "<img" not in page and page.count("</script>") == 1  # the page's own sorting script
    assert page.count("&lt;img src=x") == 4  # <title>, heading, note, cell


def test_a_title_with_dollars_is_drawn_as_written(tmp_path):
    """mathtext would fail late, in the renderer, on an unknown command."""
    from cnnstudy.report import plots

    counts = pd.DataFrame({"split": ["train"], "class": ["a"], "count": [3]})
    plots.class_counts(counts, tmp_path / "c.png", title=r"$\notacommand$ costs $5")
    assert (tmp_path / "c.png").stat().st_size > 0


def test_rst_text_leaves_words_and_removes_line_breaks():
    assert rst_text("plain words 12") == "plain words 12"
    assert rst_text("a\n\n.. raw:: html") == r"a \.\. raw\:\: html"


# ----------------------------------------------------------------------------- claims that mean nothing
def _config_with(mutate) -> dict:
    cfg = demo_config()
    mutate(cfg)
    return cfg


def _claim(cfg, study="mnist_cnn_sweeps", kind=None):
    return next(c for c in cfg["studies"][study]["claims"] if kind is None or c["kind"] == kind)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c: _claim(c, kind="difference").update(b=_claim(c, kind="difference")["a"]), "compares it with itself"),
        (
            lambda c: _claim(c, "imagenette_lenet", "best")["among"].append(
                _claim(c, "imagenette_lenet", "best")["run"]
            ),
            "holds .* itself: list only the runs it beats",
        ),
        (lambda c: _claim(c, kind="number").update(value=[0.99, 0.10]), r"range \[0.99, 0.1\] is upside down"),
        (lambda c: c.update(seeds=[0, 0, 1]), r"at seeds: \[0, 0, 1\] has non-unique elements"),
        (
            lambda c: c["studies"]["mnist_cnn_sweeps"].update(title="MNIST </script>"),
            "title: 'MNIST </script>' does not",
        ),
    ],
    ids=["difference-a-is-b", "best-among-itself", "range-upside-down", "seeds-twice", "title-with-markup"],
)
def test_claims_and_keys_that_mean_nothing_are_refused_naming_them(mutate, message):
    with pytest.raises(cc.ConfigError, match=message):
        cc.validate(_config_with(mutate))


def test_a_value_out_of_range_is_named_not_its_neighbours():
    cfg = _config_with(lambda c: _claim(c, kind="number").update(value=1.5))
    with pytest.raises(cc.ConfigError) as err:
        cc.validate(cfg)
    assert "1.5" in str(err.value) and "were unexpected" not in str(err.value), err.value


def test_a_convolution_claim_under_a_study_says_where_it_goes():
    conv = {"id": "conv_here", "kind": "conv_cases", "quote": "q", "implementations": ["naive"]}
    cfg = _config_with(lambda c: c["studies"]["mnist_cnn_sweeps"]["claims"].append(conv))
    with pytest.raises(cc.ConfigError, match="conv_here.*move it under conv_tests/claims") as err:
        cc.validate(cfg)
    assert "False schema" not in str(err.value)


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path):
    bad = tmp_path / "third.yaml"
    bad.write_text("seeds: [0\nfoo: : bar\n")
    with pytest.raises(preflight.PreflightError, match=r"third.yaml, line 2, column \d+: not valid YAML"):
        cc.load(ROOT / "config" / "config.yaml", ROOT / "config" / "demo.yaml", bad)
    proc = subprocess.run([sys.executable, "-m", "cnnstudy", "check", "--configfile", str(bad)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and "third.yaml, line 2" in proc.stderr and "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------- status reads configs like snakemake
def test_status_refuses_an_alias_bomb_in_seconds_and_a_missing_config_plainly(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 12)]
    bomb.write_text("\n".join(lines) + "\n")
    for configs, message in (([str(bomb)], "expands to"), ([str(tmp_path / "none.yaml")], "cannot be read")):
        tick = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "cnnstudy", "status", "--configfile", *configs],
                              capture_output=True, text=True, timeout=60, cwd=tmp_path)  # fmt: skip
        assert time.monotonic() - tick < 20
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


@pytest.fixture
def one_run(tmp_path):
    cfg = demo_config()
    cfg["select"] = ["mnist_cnn_sweeps/base"]
    return cc.validate(cfg), tmp_path / "results", tmp_path / "results" / "runs" / "mnist_cnn_sweeps" / "base" / "seed0"


@pytest.mark.parametrize(
    "content, says",
    [("{not json", "summary.json is unreadable (JSONDecodeError)"), ("[1, 2]", "summary.json is not a RunSummary")],
)
def test_status_names_a_corrupt_summary_and_how_to_rerun_it(one_run, content, says):
    config, results, folder = one_run
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(content)
    row = next(r for r in status.collect(config, results) if r.seed == 0)
    assert row.state == "failed" and says in row.detail and "--forcerun" in row.detail, row


def test_status_says_a_deleted_summary_needs_its_job_forced(one_run):
    config, results, folder = one_run
    folder.mkdir(parents=True)
    (folder / "metrics.csv").write_text("scope\n")
    row = next(r for r in status.collect(config, results) if r.seed == 0)
    assert row.state == "failed" and "is missing though the run wrote its other outputs" in row.detail, row
    assert f"--forcerun {folder / 'summary.json'}" in row.detail


def test_an_interrupted_script_logs_why_and_status_reads_it_as_stopped(one_run):
    config, results, _ = one_run
    log = results / "logs" / "train" / "mnist_cnn_sweeps" / "base" / "seed0.log"
    with pytest.raises(KeyboardInterrupt), logs.script_log(log) as say:
        say("device cpu (x86_64, compute capability None), precision fp32")
        raise KeyboardInterrupt
    assert "STOPPED: interrupted (Ctrl-C or SIGINT)" in log.read_text() and "ERROR" not in log.read_text()
    row = next(r for r in status.collect(config, results) if r.seed == 0)
    assert row.state == "stopped" and "interrupted" in row.detail, row


# ----------------------------------------------------------------------------- records: names under the digest
def _dataset(tmp_path, kind="cifar10"):
    x = torch.randint(0, 255, (6, 1, 4, 4), dtype=torch.uint8)
    splits = {"train": (x, [0, 1] * 3), "val": (x[:2], [0, 1]), "test": (x[:2], [1, 0])}
    return datasets.save(tmp_path / "data.pt", splits, ["a", "b"], meta={"kind": kind}) and tmp_path / "data.pt"


def test_a_flipped_byte_in_a_split_name_is_refused_naming_the_file(tmp_path):
    """The split name is stored once (pickle memoizes it): one byte renames it in every table."""
    path = _dataset(tmp_path)
    raw = path.read_bytes()
    name = b"X\x04\x00\x00\x00test"  # pickle: BINUNICODE of length 4
    assert name in raw
    path.write_bytes(raw.replace(name, b"X\x04\x00\x00\x00tesp"))
    with pytest.raises(datasets.DatasetError, match=r"data.pt: split\(s\) missing \['test'\], unexpected \['tesp'\]"):
        datasets.load(path)


def test_a_renamed_split_of_a_dataset_without_kind_fails_its_structure_digest(tmp_path):
    path = _dataset(tmp_path)
    data = torch.load(path, weights_only=True)
    data["meta"] = {}
    torch.save(data, path)
    with pytest.raises(datasets.DatasetError, match="class names or metadata|structure|split names"):
        datasets.load(path)


def test_a_split_without_its_images_is_named_not_a_bare_keyerror(tmp_path):
    path = _dataset(tmp_path)
    data = torch.load(path, weights_only=True)
    data["splits"]["val"]["z"] = data["splits"]["val"].pop("x")
    torch.save(data, path)
    with pytest.raises(datasets.DatasetError, match=r"data.pt: split 'val' holds \['y', 'z'\], not x and y"):
        datasets.load(path)


# ----------------------------------------------------------------------------- source files
def test_an_idx_header_whose_size_overflows_is_named(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 2**31, 2**31, 4) + b"\0" * 16)
    with pytest.raises(
        formats.FormatError, match=r"train-images-idx3-ubyte: idx header says \(2147483648, 2147483648, 4\)"
    ):
        formats.read_idx(path)


def _png_header(path, side: int) -> None:
    """A PNG that declares side x side pixels (PIL reads the size before decoding anything)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * (1 + 3 * 8))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [30_000, 12_000], ids=["pil-bomb", "past-our-limit"])
def test_an_oversized_image_in_an_archive_is_refused_naming_it(tmp_path, side):
    folder = tmp_path / "imagenette2-160" / "train" / "n01440764"
    folder.mkdir(parents=True)
    _png_header(folder / "huge.png", side)
    with pytest.raises(formats.FormatError, match=r"huge.png: .*(pixels|DecompressionBomb).*extract it again"):
        formats.read_image_folders(tmp_path / "imagenette2-160", size=8)


@pytest.mark.parametrize("file_name", ["../../outside.jpg", "/etc/hostname"], ids=["dotdot", "absolute"])
def test_a_coco_file_name_outside_the_image_folder_is_refused(demo_coco, tmp_path, file_name):
    ann, img = demo_coco
    doc = json.loads(ann.read_text())
    for image in doc["images"]:
        image["file_name"] = file_name
    hostile = tmp_path / "instances_train2014.json"
    hostile.write_text(json.dumps(doc))
    with pytest.raises(coco.SubsetError, match=r"instances_train2014.json: image file_name .* not a plain name"):
        coco.build_subset(hostile, img, tmp_path / "out", classes=["airplane", "bus", "cat", "dog", "pizza"],
                          train_per_class=4, val_per_class=2, size=16, seed=0)  # fmt: skip
    assert not (tmp_path / "out" / "images").exists()


def test_log_axes_are_labelled_in_plain_numbers_with_mathtext_off():
    """Mathtext is off (config text shown as written), so matplotlib's default log labels
    ('$\\mathdefault{10^{0}}$') would print raw; the figures' log axes label plain numbers."""
    import matplotlib.pyplot as plt

    from cnnstudy.escape import plain_matplotlib_text
    from cnnstudy.report import plots

    plain_matplotlib_text()
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [2.3, 0.9, 0.4])
    plots._log_scale(ax.yaxis)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels(minor=True) + ax.get_yticklabels() if t.get_text()]
    plt.close(fig)
    assert labels and not [s for s in labels if "$" in s or "mathdefault" in s], labels
    assert "1" in labels
