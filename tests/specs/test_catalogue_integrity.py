"""Issue 17 items 2-4 in the specification layer: the catalogue's text is intact (quoted YAML), the loader
refuses unknown and null keys with file, line and field, every numeric CQA has a physical range, and each
qualitative criterion has its own controlled vocabulary."""

import re

import pytest

from cgtqc.errors import SpecificationError
from cgtqc.specs import Criterion, catalogue, templates
from cgtqc.specs.loader import parse_catalogue, parse_specification


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def test_catalogue_names_and_methods_are_the_intended_text():
    cat = catalogue()
    for d in cat.values():
        assert _balanced(d.name) and _balanced(d.method), d
    assert cat["sterility_rapid"].name == "Sterility (rapid, automated)"
    assert cat["sterility"].method == "Membrane filtration or direct inoculation, 14 days (USP <71>)"
    assert cat["msc_identity"].method == (
        "Flow cytometry (CD105, CD73, CD90 >= 95%; CD45, CD34, CD14, CD19, HLA-DR <= 2%)"
    )
    assert cat["vector_copies_per_ug_gdna"].name == (
        "Vector copies per ug genomic DNA (biodistribution, shedding)"
    )
    assert cat["potency_ifng"].method == "Co-culture with antigen+ targets, 4PL parallel-line"
    assert cat["adventitious_virus"].name == "Adventitious viruses (HPV16/18, polyomaviruses)"


def test_template_names_methods_and_notes_are_intact():
    for spec in templates().values():
        for ln in spec.lines:
            for text in (ln.name, ln.method, ln.note):
                assert _balanced(text), (spec.product, ln.cqa, text)
                assert not re.search(r"\(\w*$", text), (spec.product, ln.cqa, text)


def test_every_numeric_cqa_has_a_physical_range():
    cat = catalogue()
    for d in cat.values():
        if d.qualitative:
            assert d.physical is None
        elif d.unit == "%" and d.id not in ("potency_ifng", "potency_expression", "ido_activity",
                                             "cytotoxicity", "msc_immunosuppression"):
            assert str(d.physical) == "0 – 100", d.id
    assert str(cat["vg_titer"].physical) == "≥ 0" and str(cat["viable_cell_count"].physical) == "≥ 0"
    assert str(cat["potency_ifng"].physical) == "≥ 0"  # relative potency may exceed 100 %


CATALOGUE_OK = 'cqas:\n  x: {name: "X", category: purity, unit: "%", method: "M", range: "0 - 100"}\n'


@pytest.mark.parametrize(
    "text, place, message",
    [
        # the original bug: an unquoted comma in a flow mapping
        ('cqas:\n\n  x: {name: Sterility (rapid, automated), category: safety, unit: "", method: M,'
         " qualitative: true}\n", "line 3, field 'automated)'", "without value: quote text holding a comma"),
        ('cqas:\n  x: {name: "X", category: purity, unit: "%", method: "M", range: "0 - 100", colour: red}\n',
         "line 2, field 'colour'", "unknown field 'colour'"),
        ('cqas:\n  x: {name: "X", category: purity, unit: "%", method: , range: "0 - 100"}\n',
         "line 2, field 'method'", "has no value"),
        ('cqas:\n  x: {name: "X", category: purity, unit: "%", method: "M"}\n', "line 2",
         "has no physical 'range'"),
        ('cqas:\n  x: {name: "X", category: purity, unit: "%", method: "M", range: "big"}\n',
         "line 2, field 'range'", "unknown qualitative outcome"),
    ],
)
def test_catalogue_loader_refuses_unknown_and_null_keys(text, place, message):
    parse_catalogue(CATALOGUE_OK, "ok.yaml")
    with pytest.raises(SpecificationError) as exc:
        parse_catalogue(text, "cat.yaml")
    assert f"cat.yaml: {place}" in str(exc.value) and message in str(exc.value), str(exc.value)


def test_specification_loader_refuses_null_keys():
    text = (
        "product: x\nname: X\nversion: '1'\nmodality: msc\ntests:\n"
        "  - {cqa: viability, acceptance: '>= 70.0', method: Flow (7-AAD, gated)}\n"
    )
    with pytest.raises(SpecificationError) as exc:
        parse_specification(text, "s.yaml")
    assert "s.yaml: line 6, field 'gated)'" in str(exc.value)
    with pytest.raises(SpecificationError, match="line 6, field 'alert': field 'alert' has no value"):
        parse_specification(text.replace("method: Flow (7-AAD, gated)", "alert:"), "s.yaml")


@pytest.mark.parametrize(
    "criterion, result, canonical",
    [
        ("No growth", "no growth", "No growth"),
        ("No growth", "GROWTH", "Growth"),
        ("Not detected", "not detected", "Not detected"),
        ("Not detected", "ND", "Not detected"),
        ("Conforms", "complies", "Conforms"),
        ("Negative", "Positive", "Positive"),
    ],
)
def test_vocabulary_synonyms_map_to_the_canonical_form(criterion, result, canonical):
    assert Criterion.parse(criterion).canonical_outcome(result) == canonical


@pytest.mark.parametrize(
    "criterion, result",
    [("No growth", "Negative"), ("No growth", "Not detected"), ("Not detected", "No growth"),
     ("Conforms", "Pass?"), ("Not detected", "Negative")],
)
def test_words_of_another_vocabulary_are_refused_with_the_allowed_ones(criterion, result):
    crit = Criterion.parse(criterion)
    with pytest.raises(ValueError, match=re.escape(f"allowed: {', '.join(crit.outcomes)}")):
        crit.canonical_outcome(result)
