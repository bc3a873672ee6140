"""The convolution gate's test cases, torch-free: the config validator checks the case names
a claim gives when the workflow loads, and ``conv_check`` runs them.

``CASES`` are seed 000's test suite (all of it, dilation and grouping included) plus
padding, rectangular kernels and a case with every option at once; ``SOBEL_CASE`` is its
known-filter test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

IMPLEMENTATIONS = ("naive", "im2col", "unfold")
SOBEL_CASE = "known_filter_sobel"


@dataclass(frozen=True)
class Case:
    name: str
    x: tuple
    w: tuple
    kwargs: dict = field(default_factory=dict)
    bias: str = "random"  # random | zero | none


CASES = [
    Case("square_kernel", (2, 3, 16, 16), (4, 3, 3, 3)),
    Case("horizontal_kernel", (2, 3, 16, 16), (4, 3, 1, 5)),
    Case("vertical_kernel", (2, 3, 16, 16), (4, 3, 5, 1)),
    Case("increasing_filters", (2, 4, 12, 12), (16, 4, 3, 3)),
    Case("decreasing_filters", (2, 16, 12, 12), (4, 16, 3, 3)),
    Case("same_filters", (2, 8, 12, 12), (8, 8, 3, 3)),
    Case("stride", (2, 3, 17, 17), (4, 3, 3, 3), {"stride": 2}),
    Case("stride_rectangular", (2, 3, 17, 15), (4, 3, 3, 3), {"stride": (2, 3)}),
    Case("dilation", (2, 3, 16, 16), (4, 3, 3, 3), {"dilation": 2}),
    Case("grouping", (4, 128, 64, 64), (64, 32, 3, 3), {"groups": 4, "padding": 1}),
    Case("depthwise", (2, 6, 10, 10), (12, 1, 3, 3), {"groups": 6}),
    Case("biased", (2, 3, 10, 10), (5, 3, 3, 3), {}, "random"),
    Case("zero_biased", (2, 3, 10, 10), (5, 3, 3, 3), {}, "zero"),
    Case("no_bias", (2, 3, 10, 10), (5, 3, 3, 3), {}, "none"),
    Case("padding", (2, 3, 10, 10), (4, 3, 3, 3), {"padding": 2}),
    Case("padding_pair", (2, 3, 10, 12), (4, 3, 3, 5), {"padding": (1, 2)}),
    Case("padding_same_even", (2, 3, 10, 10), (4, 3, 4, 2), {"padding": "same"}),
    Case("padding_valid", (2, 3, 10, 10), (4, 3, 3, 3), {"padding": "valid"}),
    Case("rectangular_kernel", (2, 3, 14, 14), (4, 3, 2, 5)),
    Case(
        "everything",
        (2, 6, 19, 17),
        (9, 2, 3, 4),
        {"stride": (2, 1), "padding": (2, 1), "dilation": (1, 2), "groups": 3},
    ),
]


def case_names() -> list[str]:
    """Every case of the gate, the known-filter test included."""
    return [c.name for c in CASES] + [SOBEL_CASE]
