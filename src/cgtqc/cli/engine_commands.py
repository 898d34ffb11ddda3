"""Commands generated from the engine registry: ``cgtqc NAME run`` and ``cgtqc engines``.

``cgtqc NAME run FILES... [--PARAM VALUE ...] [--out DIR] [--json]`` is built from the engine's
:class:`~cgtqc.engines.EngineSpec`: one option per parameter of its pydantic model (type, default and help
text taken from the model), one ``--KIND PATH`` option per input kind, and positional files sorted into kinds
by their patterns. The lot manifest and the web form read the same model, so no option is written twice.
"""

from __future__ import annotations

import enum
import inspect
import json
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from cgtqc.engines import EngineSpec, literal_choices, registry
from cgtqc.errors import InputError

_SCALARS = (int, float, str, Path)


def _option_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def _unwrap_optional(annotation: Any) -> Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if type(None) in typing.get_args(annotation) and len(args) == 1:
        return args[0]
    return annotation


def _cli_parameter(name: str, info: Any) -> tuple[inspect.Parameter, Callable[[Any], Any]]:
    """The Typer parameter of one model field, and the function turning its CLI value into the model's."""
    annotation = _unwrap_optional(info.annotation)
    required = info.is_required()
    default = ... if required else info.get_default(call_default_factory=True)
    help_text = info.description or ""
    choices = literal_choices(annotation)
    convert: Callable[[Any], Any] = lambda v: v  # noqa: E731
    if annotation is bool:
        cli_type, option = bool, typer.Option(default, f"{_option_name(name)}/--no-{name.replace('_', '-')}",
                                              help=help_text)
    elif choices:
        by_text = {str(c): c for c in choices}
        cli_type = enum.Enum(f"{name}_choices", {str(c): str(c) for c in choices}, type=str)
        default = default if default is ... or default is None else cli_type(str(default))
        option = typer.Option(default, _option_name(name), help=help_text, case_sensitive=False)
        convert = lambda v: None if v is None else by_text[v.value]  # noqa: E731
    elif annotation in _SCALARS:
        cli_type, option = annotation, typer.Option(default, _option_name(name), help=help_text)
    elif typing.get_origin(annotation) in (list, tuple) and typing.get_args(annotation)[0] in _SCALARS:
        cli_type = list[typing.get_args(annotation)[0]]
        option = typer.Option(None, _option_name(name), help=f"{help_text} (repeat for several values; "
                              f"default {json.dumps(default)})", show_default=False)
        convert = lambda v: list(v) if v else None  # noqa: E731
    else:  # mappings and nested values: given as JSON, validated by the model
        cli_type = str
        option = typer.Option(None if default is not ... else ..., _option_name(name), metavar="JSON",
                              help=f"{help_text} (JSON; default {json.dumps(default)})", show_default=False)

        def convert(v: Any) -> Any:
            if v is None:
                return None
            try:
                return json.loads(v)
            except json.JSONDecodeError as exc:
                raise InputError(f"option {_option_name(name)}: not valid JSON ({exc.msg})") from None

    if not required and default is None or cli_type is not bool and option.default is None:
        cli_type = cli_type | None  # type: ignore[operator]
    param = inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=cli_type)
    return param, convert


def run_command(spec: EngineSpec) -> Any:
    """``cgtqc NAME run``: the engine on files, its parameters as options (a Typer command)."""
    kind_dest = {k.name: "input_" + k.name.replace("-", "_") for k in spec.inputs}
    fields = {name: _cli_parameter(name, info) for name, info in spec.params.model_fields.items()}
    clash = set(fields) & {*kind_dest.values(), "files", "out", "as_json"}
    if clash:
        raise RuntimeError(f"engine {spec.name!r}: parameter names clash with run's own options: {clash}")
    kw = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter("files", kw, annotation=list[Path] | None, default=typer.Argument(
            None, help="Raw files, sorted into the input kinds by their names", dir_okay=False)),
        *[
            inspect.Parameter(dest, kw, annotation=list[Path] | None, default=typer.Option(
                None, f"--{kind}", dir_okay=False,
                help=f"{spec.inputs[i].description or kind} ({' '.join(spec.inputs[i].patterns)})"))
            for i, (kind, dest) in enumerate(kind_dest.items())
        ],
        *[param for param, _ in fields.values()],
        inspect.Parameter("out", kw, annotation=Path | None, default=typer.Option(
            None, "--out", file_okay=False, help="Folder for the engine's tables, plots and report")),
        inspect.Parameter("as_json", kw, annotation=bool, default=typer.Option(
            False, "--json", help="Print one JSON document")),
    ]

    def run(**values: Any) -> None:
        from cgtqc.cli._common import console, print_json

        files = values.pop("files") or []
        inputs = spec.assign_inputs(list(files)) if files else {}
        for kind, dest in kind_dest.items():
            extra = values.pop(dest) or []
            if extra:
                inputs.setdefault(kind, []).extend(Path(p) for p in extra)
        out, as_json = values.pop("out"), values.pop("as_json")
        params = {}
        for name, (_, convert) in fields.items():
            v = convert(values[name])
            if v is not None or spec.params.model_fields[name].is_required():
                params[name] = v
        result = spec.execute(inputs, params, out)
        if as_json:
            print_json(result)
            return
        console.print(measurement_table(result.measurements, title=f"{spec.name} {spec.version}"))
        for a in result.artefacts:
            console.print(f"{a.kind}: {a.path}  ({a.title})", highlight=False)

    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    run.__doc__ = f"Run the {spec.name} engine: {spec.summary} CQAs: {', '.join(spec.cqas)}."
    app = typer.Typer(add_completion=False)
    short = f"Run the {spec.name} engine on raw files (options from its parameters)."
    app.command("run", short_help=short)(run)
    return typer.main.get_command(app)


def measurement_table(measurements: list, title: str = "") -> Table:
    """Measurements as a rich table: CQA, value, unit, 95% CI, validity and failed checks."""
    t = Table("CQA", "value", "unit", "95% CI", "valid", "sample", title=title or None)
    for m in measurements:
        ci = f"{m.ci_low:.4g} – {m.ci_high:.4g}" if m.ci_low is not None and m.ci_high is not None else ""
        value = f"{m.value:.6g}" if isinstance(m.value, float) else str(m.value)
        valid = "yes" if m.valid else "[bold red]NO[/] " + ", ".join(c.name for c in m.failed_checks)
        t.add_row(m.cqa, value, m.unit, ci, valid, m.sample or "")
    return t


def engine_group(spec: EngineSpec) -> Any:
    """``cgtqc NAME``: the engine's hand-written commands (if any) plus the generated ``run``."""
    import importlib

    if spec.cli:
        group = typer.main.get_group(importlib.import_module(spec.cli).app)
    else:
        help_text = f"{spec.summary} (engine {spec.name} {spec.version})"
        group = typer.core.TyperGroup(name=spec.name, help=help_text)
    group.name = spec.name
    if "run" not in group.commands:
        group.add_command(run_command(spec))
    return group


def engines_group() -> Any:
    """``cgtqc engines [--json]`` and ``cgtqc engines show NAME``."""
    app = typer.Typer(
        help="Registered engines: version, input kinds, parameters and CQAs.", add_completion=False
    )

    @app.callback(invoke_without_command=True)
    def engines(
        ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print one JSON document")
    ) -> None:
        """List every registered engine: version, input kinds, parameters and CQAs."""
        if ctx.invoked_subcommand is not None:
            return
        from rich.console import Console

        from cgtqc.cli._common import console, print_json

        reg = registry()
        if as_json:
            print_json({"engines": [reg[n].to_dict() for n in reg], "errors": reg.errors})
            return
        t = Table("engine", "version", "inputs", "parameters", "CQAs", "origin", title="registered engines")
        for name in reg:
            e = reg[name]
            t.add_row(
                name, e.version, ", ".join(k.name for k in e.inputs), str(len(e.params.model_fields)),
                ", ".join(e.cqas), e.origin.partition(":")[0],
            )
        console.print(t)
        for name, why in reg.errors.items():
            Console(stderr=True).print(f"[yellow]warning:[/] engine {name!r} failed to load: {why}")

    @app.command("show")
    def show(
        name: str = typer.Argument(..., help="Engine name (see `cgtqc engines`)"),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document"),
    ) -> None:
        """One engine's inputs and parameters with their defaults."""
        from cgtqc.cli._common import console, print_json

        spec = registry()[name]
        if as_json:
            print_json(spec.to_dict())
            return
        console.print(f"[bold]{spec.name}[/] {spec.version}: {spec.summary}", highlight=False)
        inputs = Table("input kind", "patterns", "reader", "required", title="inputs")
        for k in spec.inputs:
            inputs.add_row(k.name, " ".join(k.patterns), k.reader, "yes" if k.required else "no")
        console.print(inputs)
        params = Table("parameter", "option", "type", "default", "help", title="parameters")
        for row in spec.parameter_table():
            default = "(required)" if row["required"] else json.dumps(row["default"])
            params.add_row(row["name"], _option_name(row["name"]), row["type"], default, row["help"])
        console.print(params)
        console.print(f"CQAs: {', '.join(spec.cqas)}", highlight=False)

    return typer.main.get_group(app)
