"""Engine parameters as form fields, generated from each engine's parameter model (``EngineSpec.params``),
so no option is written twice: a choice is a select, a yes/no a select, a list a JSON field, anything else a
text field; an empty field keeps the engine's default. The fields come as an HTMX fragment when an entry
form is opened or its engine changes; without HTMX the form keeps its JSON field only. The engine's own
model validates what is sent (one line naming the parameter when a value does not fit).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from cgtqc.engines import registry
from cgtqc.errors import CgtqcError, InputError
from cgtqc.runner import upload
from cgtqc.web.context import PageUser, error_page, render

router = APIRouter()
PREFIX = "param."


def _widget(row: dict[str, Any]) -> str:
    if row["choices"]:
        return "choice"
    if row["type"].startswith("bool"):
        return "bool"
    if row["type"].startswith(("list", "dict", "tuple")):
        return "json"
    return "text"


def fields(engine: str) -> list[dict[str, Any]]:
    """Every parameter of ``engine`` with the widget it is entered with and its default as shown."""
    out = []
    for row in registry()[engine].parameter_table():
        default = row["default"]
        shown = "" if default is None else json.dumps(default) if not isinstance(default, str) else default
        out.append(
            {
                **row,
                "widget": _widget(row),
                "shown_default": shown,
                "choices": [str(c) for c in row["choices"]],
            }
        )
    return out


def params_from_form(engine: str, form: FormData) -> dict[str, Any]:
    """The parameters typed into the generated fields, then the JSON field on top (it wins a conflict)."""
    spec = registry()[engine]
    known = {row["name"]: row for row in spec.parameter_table()}
    params: dict[str, Any] = {}
    for key, value in form.multi_items():
        if not key.startswith(PREFIX) or not isinstance(value, str) or not value.strip():
            continue
        name = key.removeprefix(PREFIX)
        row = known.get(name)
        if row is None:
            raise InputError(f"engine {engine!r} has no parameter {name!r}", place="parameters")
        text = value.strip()
        if row["choices"]:
            params[name] = next((c for c in row["choices"] if str(c) == text), text)
        elif _widget(row) == "bool":
            params[name] = {"true": True, "false": False}.get(text.lower(), text)
        elif _widget(row) == "json":
            try:
                params[name] = json.loads(text)
            except json.JSONDecodeError:
                raise InputError(
                    f"parameter {name!r}: write it as JSON, e.g. {row['shown_default'] or '[]'}",
                    place="parameters",
                ) from None
        else:
            params[name] = text  # the engine's model converts and checks numbers
    params.update(upload.parse_params(str(form.get("params") or "")))
    return params


@router.get("/fragments/engine-params", include_in_schema=False)
def engine_params(request: Request, who: PageUser, engine: str = "", key: str = "0") -> Response:
    """HTMX fragment: the fields of one engine's parameters for the entry form ``key``."""
    try:
        rows = fields(engine)
    except CgtqcError as exc:
        return error_page(request, who, exc)
    safe_key = "".join(ch for ch in key if ch.isalnum())[:12] or "0"
    return render(request, "_engine_params.html.j2", user=who, engine=engine, rows=rows, key=safe_key)
