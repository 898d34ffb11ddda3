"""The ``cgtqc`` command: a thin Typer front over the service functions.

Command groups are loaded lazily: ``cgtqc ddpcr ...`` imports the ddPCR module and nothing of FlowKit,
pysam or numba, so a command starts in a fraction of a second. ``GROUPS`` lists the foundation's command
modules; the engine groups come from the engine registry (``cgtqc.engines`` entry points): each engine's
hand-written commands, if it has any, plus ``run`` generated from its parameter model. Errors the user caused
print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from cgtqc.errors import CgtqcError

# command group -> (module, {sub-group name: module mounted under it})
GROUPS: dict[str, tuple[str, dict[str, str]]] = {
    "spec": ("cgtqc.cli.spec", {}),
    "lot": ("cgtqc.cli.lot", {}),
    "result": ("cgtqc.cli.result", {}),
    "release": ("cgtqc.cli.release", {}),
    "audit": ("cgtqc.cli.audit", {}),
    "user": ("cgtqc.cli.user", {}),
    "trend": ("cgtqc.cli.trend", {}),
    "stability": ("cgtqc.cli.stability", {}),
    "compare": ("cgtqc.cli.compare", {}),
    "validate": ("cgtqc.cli.validate", {}),
    "integration": ("cgtqc.cli.integration", {}),
    # the laboratory quality system (issue 15)
    "instrument": ("cgtqc.cli.instrument", {}),
    "reagent": ("cgtqc.cli.reagent", {}),
    "analyst": ("cgtqc.cli.analyst", {}),
    "method": ("cgtqc.cli.method", {}),
    "oos": ("cgtqc.cli.oos", {}),
    "deviation": ("cgtqc.cli.deviation", {}),
    "serve": ("cgtqc.cli.serve", {}),
    "backup": ("cgtqc.cli.backup", {}),
}


def _command(module_name: str, name: str, children: dict[str, str]) -> Any:
    """The click group of a command module; its sub-groups stay lazy too."""
    module = importlib.import_module(module_name)
    cmd = typer.main.get_group(module.app)  # a group even when it holds one command
    cmd.name = name
    if children:
        cmd.__class__ = LazyGroup
        cmd.lazy = {child: (child_module, {}) for child, child_module in children.items()}
    return cmd


class LazyGroup(TyperGroup):
    """Lists its lazy groups without importing them; imports a group's module only when it is invoked."""

    lazy: dict[str, tuple[str, dict[str, str]]] = GROUPS

    engines = False  # the top-level group also lists the registered engines

    def list_commands(self, ctx: Any) -> list[str]:
        names = [*super().list_commands(ctx), *self.lazy]
        if self.engines:
            from cgtqc.engines import registry

            names += ["engines", *registry()]
        return sorted(set(names))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.lazy:
            module_name, children = self.lazy[cmd_name]
            return _command(module_name, cmd_name, children)
        if self.engines and cmd_name == "engines":
            from cgtqc.cli.engine_commands import engines_group

            return engines_group()
        if self.engines and not super().get_command(ctx, cmd_name):
            from cgtqc.engines import registry

            reg = registry()
            if cmd_name in reg:
                from cgtqc.cli.engine_commands import engine_group

                spec = reg[cmd_name]
                cmd = engine_group(spec)
                if spec.cli_children:
                    cmd.__class__ = LazyGroup
                    cmd.lazy = {child: (module, {}) for child, module in spec.cli_children.items()}
                return cmd
        return super().get_command(ctx, cmd_name)


class CgtqcGroup(LazyGroup):
    """The ``cgtqc`` command: foundation groups, ``engines`` and one group per registered engine."""

    engines = True


app = typer.Typer(
    name="cgtqc",
    cls=CgtqcGroup,
    help="Quality control and lot release for cell and gene therapy products.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 1000)


def _print_version(value: bool) -> None:
    if value:
        from cgtqc import __version__

        typer.echo(f"cgtqc {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the cgtqc version and exit"
    ),
) -> None:
    """Quality control and lot release for cell and gene therapy products."""


@app.command()
def version(json_: bool = typer.Option(False, "--json", help="Print one JSON document")) -> None:
    """Print the cgtqc version (also `cgtqc --version`)."""
    from cgtqc import __version__

    typer.echo(f'{{"cgtqc": "{__version__}"}}' if json_ else __version__)


from cgtqc.cli import run, workspace  # noqa: E402  (top-level commands: init, coa, demo, run)

workspace.register(app)
run.register(app)


def main() -> None:
    """Entry point: run the app, turning cgtqc errors into one clear line."""
    try:
        code = app(standalone_mode=False)  # click returns the exit code of typer.Exit here
        if isinstance(code, int) and code:
            sys.exit(code)
    except CgtqcError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # usage errors from the click layer Typer vendors
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        raise
