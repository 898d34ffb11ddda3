"""Packaged templates load, cover their modality and evaluate; errors name file, line and field."""

import pytest

from cgtqc import __version__
from cgtqc.errors import SpecificationError
from cgtqc.results import Measurement, Provenance
from cgtqc.specs import catalogue, evaluate, load_specification, parse_specification, templates
from cgtqc.specs.loader import template_paths

MODALITIES = {"car_t", "lv_hsc", "crispr_hsc", "aav", "lv_vector", "msc"}


def test_one_template_per_modality():
    assert set(templates()) == MODALITIES
    assert len(template_paths()) == 6


@pytest.mark.parametrize("product", sorted(MODALITIES))
def test_template_lines_are_complete_and_evaluate(product):
    spec = templates()[product]
    cat = catalogue()
    assert spec.editable and spec.release_lines
    categories = {ln.category for ln in spec.release_lines}
    assert {"safety", "strength"} <= categories
    for ln in spec.lines:
        assert ln.cqa in cat and ln.method and str(ln.acceptance)
        if ln.acceptance.qualitative:
            value, unit = ln.acceptance.expected, ""
        else:
            bound = ln.acceptance.low or ln.acceptance.high
            value, unit = float(bound), ln.unit
        m = Measurement(ln.cqa, value, unit, Provenance("test", __version__))
        # a result sitting on an inclusive limit conforms (limits are inclusive unless written < or >)
        inclusive = ln.acceptance.qualitative or (
            ln.acceptance.low_inclusive if ln.acceptance.low else ln.acceptance.high_inclusive
        )
        assert evaluate(ln, m).verdict in (("pass", "oot") if inclusive else ("fail",))


def test_sterility_may_follow_release_for_cell_products():
    assert templates()["car_t"].line("sterility_rapid").after_release
    assert not templates()["aav"].line("sterility").after_release


BASE = """product: p
name: P
version: "1"
modality: car_t
tests:
  - cqa: viability
    acceptance: ">= 80.0"
"""


@pytest.mark.parametrize(
    "text, line, field",
    [
        (BASE + "    unit: furlongs\n", 8, "unit"),
        (BASE.replace('">= 80.0"', '">= 80,0"'), 7, "acceptance"),
        (BASE.replace("cqa: viability", "cqa: vibility"), 6, "cqa"),
        (BASE + "    colour: red\n", 8, "colour"),
        (BASE.replace('">= 80.0"', "Not detected"), 7, "acceptance"),
        (BASE.replace('">= 80.0"', "80.0"), 7, "acceptance"),
    ],
)
def test_loading_errors_name_line_and_field(text, line, field):
    with pytest.raises(SpecificationError) as exc:
        parse_specification(text, "bad.yaml")
    msg = str(exc.value)
    assert msg.startswith(f"bad.yaml: line {line}, field {field!r}: "), msg
    assert "\n" not in msg


def test_invalid_yaml_names_line(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text(BASE + "  - cqa: [unclosed\n")
    with pytest.raises(SpecificationError, match=r"broken.yaml: line \d+, column \d+: invalid YAML"):
        load_specification(p)


def test_duplicate_line_refused():
    with pytest.raises(SpecificationError, match="appears twice"):
        parse_specification(BASE + '  - cqa: viability\n    acceptance: ">= 70.0"\n', "dup.yaml")
