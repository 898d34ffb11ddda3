"""The ``cgtqc`` command: a thin Typer front over the service functions.

Each module in this package that defines ``app`` (a ``typer.Typer``) becomes a sub-command group
named after the module (``cgtqc ddpcr ...`` from ``cli/ddpcr.py``), so an engine adds its commands
without editing this file. Errors the user caused print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer
from rich.console import Console

from cgtqc.errors import CgtqcError

app = typer.Typer(
    name="cgtqc",
    help="Quality control and lot release for cell and gene therapy products.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)


@app.callback()
def _root() -> None:
    """Quality control and lot release for cell and gene therapy products."""


def _register_groups() -> None:
    """Mount every command module; one with ``PARENT = "group"`` goes under that group (``cgtqc editing
    offtargets``), so an engine can extend another's commands without editing its module."""
    groups: dict[str, typer.Typer] = {}
    children: list[tuple[str, str, typer.Typer]] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        sub = getattr(module, "app", None)
        name = getattr(module, "NAME", info.name.replace("_", "-"))
        if isinstance(sub, typer.Typer):
            parent = getattr(module, "PARENT", None)
            if parent:
                children.append((parent, name, sub))
            else:
                groups[name] = sub
        register = getattr(module, "register", None)
        if callable(register):
            register(app)
    for parent, name, sub in children:
        groups[parent].add_typer(sub, name=name)
    for name, sub in groups.items():
        app.add_typer(sub, name=name)


@app.command()
def version() -> None:
    """Print the cgtqc version."""
    from cgtqc import __version__

    typer.echo(__version__)


_register_groups()


def main() -> None:
    """Entry point: run the app, turning cgtqc errors into one clear line."""
    try:
        app(standalone_mode=False)
    except CgtqcError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
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
