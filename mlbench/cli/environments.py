"""``mlbench env ...``: versioned Python environments jobs run in."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from mlbench.cli.context import CliContext
from mlbench.cli.render import console, print_json
from mlbench.formatting import when

pass_ctx = click.make_pass_decorator(CliContext)

_STYLE = {"building": "blue", "ready": "green", "failed": "red"}


def _status(value: str) -> str:
    return f"[{_STYLE.get(value, '')}]{value}[/]"


def envs_table(infos: list[Any]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("NAME", "VERSION", "STATUS", "PYTHON", "PACKAGES", "HASH", "KERNEL", "CREATED"):
        table.add_column(col, no_wrap=True)
    for i in infos:
        table.add_row(
            i.name,
            str(i.version),
            _status(i.status.value),
            i.python,
            str(len(i.packages)),
            i.lock_hash[:12],
            i.kernel_name,
            when(i.created_at),
        )
    return table


def details(info: Any, *, packages: bool) -> None:
    rows = [
        ("ref", info.ref),
        ("status", _status(info.status.value)),
        ("python", f"{info.python} ({info.platform})"),
        ("spec", f"{info.spec.source}: " + (", ".join(info.spec.requirements) or "-")),
        ("lock hash", info.lock_hash),
        ("kernel", info.kernel_name),
        ("venv", info.venv),
        ("created", f"{when(info.created_at)} by {info.created_by or '-'}"),
    ]
    if info.build_seconds is not None:
        rows.append(("build", f"{info.build_seconds:.1f} s"))
    if info.description:
        rows.append(("description", info.description))
    if info.error:
        rows.append(("error", f"[red]{info.error}[/]"))
    table = Table(box=None, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    if packages:
        console.print(f"[bold]packages[/] ({len(info.packages)})")
        for line in info.packages:
            console.print(f"  {line}", markup=False, highlight=False)


@click.group("env")
def env_group() -> None:
    """Versioned Python environments (NAME:VERSION) that jobs run in (--env)."""


@env_group.command("create")
@click.argument("name")
@click.option(
    "--requirements", "-r", "requirements_file", type=click.Path(dir_okay=False, exists=True)
)
@click.option("--package", "-p", "packages", multiple=True, help="A requirement (repeatable).")
@click.option("--conda", "conda_file", type=click.Path(dir_okay=False, exists=True))
@click.option("--pyproject", "pyproject_file", type=click.Path(dir_okay=False, exists=True))
@click.option("--python", help="Python version among those on this machine (e.g. 3.11).")
@click.option("--description", default="")
@click.option("--refresh", is_flag=True, help="Resolve again even if the spec is unchanged.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def env_create(
    ctx: CliContext,
    name: str,
    requirements_file: str | None,
    packages: tuple[str, ...],
    conda_file: str | None,
    pyproject_file: str | None,
    python: str | None,
    description: str,
    refresh: bool,
    as_json: bool,
) -> None:
    """Create NAME from a requirements file, packages, a conda YAML (its pip: section) or a
    pyproject's dependencies, and build it (Ctrl-C cancels the build).

    The same packages (in any order) return the existing version without building.
    """
    given = sum(x is not None for x in (requirements_file, conda_file, pyproject_file))
    if given + bool(packages) != 1:
        raise click.UsageError("give one of --requirements, --package, --conda or --pyproject")
    reqs: Any = list(packages) if packages else requirements_file
    if not as_json:
        console.print(f"[dim]resolving and building {name}...[/]")
    info = ctx.ws.environments.create(
        name,
        requirements=reqs,
        conda_yaml=conda_file,
        pyproject=pyproject_file,
        python=python,
        description=description,
        refresh=refresh,
    )
    if as_json:
        print_json(info)
        return
    built = f"ready (built in {info.build_seconds:.1f} s)" if info.build_seconds else "ready"
    console.print(
        f"[bold]{info.ref}[/] {built}: {len(info.packages)} packages, {info.python}, "
        f"kernel {info.kernel_name}"
    )


@env_group.command("capture")
@click.argument("name")
@click.option("--python", "python", help="Interpreter whose packages to pin (default: this one).")
@click.option("--description", default="")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def env_capture(
    ctx: CliContext, name: str, python: str | None, description: str, as_json: bool
) -> None:
    """Create NAME pinned to what an interpreter has installed (editable and local installs
    are left out), and build it."""
    info = ctx.ws.environments.capture(name, python=python, description=description)
    if as_json:
        print_json(info)
        return
    console.print(f"[bold]{info.ref}[/] {info.status.value}: {len(info.packages)} packages")


@env_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def env_list(ctx: CliContext, as_json: bool) -> None:
    """Environments, the newest version of each."""
    infos = ctx.ws.environments.list()
    if as_json:
        print_json(infos)
        return
    if not infos:
        console.print("[dim]no environments (`mlbench env create NAME -p PACKAGE`)[/]")
        return
    console.print(envs_table(infos))


@env_group.command("show")
@click.argument("ref")
@click.option("--versions", is_flag=True, help="Every version of NAME.")
@click.option("--log", "show_log", is_flag=True, help="The build log.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def env_show(ctx: CliContext, ref: str, versions: bool, show_log: bool, as_json: bool) -> None:
    """One version (REF is NAME or NAME:VERSION): spec, lock, kernel, status."""
    envs = ctx.ws.environments
    if versions:
        infos = envs.versions(ref.partition(":")[0])
        if as_json:
            print_json(infos)
        else:
            console.print(envs_table(infos))
        return
    if show_log:
        entry = envs.log(ref)
        if as_json:
            print_json(entry)
        else:
            click.echo(entry.text, nl=False)
        return
    info = envs.get(ref)
    if as_json:
        print_json(info)
        return
    details(info, packages=True)


@env_group.command("build")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def env_build(ctx: CliContext, ref: str, as_json: bool) -> None:
    """Build REF again from its lock (after a failed or canceled build, or a removed venv)."""
    info = ctx.ws.environments.build(ref)
    if as_json:
        print_json(info)
        return
    console.print(f"[bold]{info.ref}[/] {info.status.value}: kernel {info.kernel_name}")


@env_group.command("delete")
@click.argument("ref")
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def env_delete(ctx: CliContext, ref: str, yes: bool, as_json: bool) -> None:
    """Delete a version (NAME:VERSION) or every version (NAME); refused while jobs use it."""
    if not yes and not as_json:
        click.confirm(f"delete environment {ref}?", abort=True)
    infos = ctx.ws.environments.delete(ref)
    if as_json:
        print_json(infos)
        return
    console.print("deleted " + ", ".join(i.ref for i in infos))


@env_group.command("gc")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def env_gc(ctx: CliContext, as_json: bool) -> None:
    """Remove venvs and kernelspecs no version refers to."""
    result = ctx.ws.environments.gc()
    if as_json:
        print_json(result)
        return
    console.print(
        f"removed {len(result.removed)} folder(s), {result.freed_bytes / 2**20:.1f} MiB freed; "
        f"{result.kept} venv(s) kept"
    )
