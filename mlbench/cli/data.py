"""``mlbench data ...`` and ``mlbench datastore ...``."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table
from rich.tree import Tree

from mlbench.cli.context import CliContext
from mlbench.cli.render import console, print_json
from mlbench.formatting import when

pass_ctx = click.make_pass_decorator(CliContext)


def _pairs(items: tuple[str, ...], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=what)
        out[key] = value
    return out


def size(n: int | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(n)


def versions_table(infos: list[Any], *, by_name: bool) -> Table:
    table = Table(box=None, header_style="bold")
    cols = ["NAME", "VERSION", "KIND", "SIZE", "FILES", "ROWS", "DATASTORE", "JOB", "CREATED"]
    for col in cols:
        table.add_column(col, no_wrap=True)
    for i in infos:
        table.add_row(
            i.name if by_name else i.ref,
            str(i.version) + (" (archived)" if i.archived else ""),
            i.kind.value + (f" ({i.format})" if i.format else ""),
            size(i.size_bytes),
            str(i.file_count),
            "-" if i.row_count is None else str(i.row_count),
            i.datastore,
            i.job_id or "-",
            when(i.created_at),
        )
    return table


def version_details(info: Any) -> None:
    rows = [
        ("ref", info.ref),
        ("kind", info.kind.value + (f" ({info.format})" if info.format else "")),
        ("uri", info.uri),
        ("datastore", f"{info.datastore} ({info.stored})"),
        ("hash", f"{info.hash_algorithm}:{info.content_hash}"),
        ("size", f"{size(info.size_bytes)} in {info.file_count} file(s)"),
        ("source", info.source or "-"),
        ("created", f"{when(info.created_at)} by {info.created_by or '-'}"),
        ("job", info.job_id or "-"),
    ]
    if info.row_count is not None:
        rows.append(("rows", str(info.row_count)))
    if info.description:
        rows.append(("description", info.description))
    if info.tags:
        rows.append(("tags", ", ".join(f"{k}={v}" for k, v in info.tags.items())))
    if info.archived:
        rows.append(("archived", "yes"))
    table = Table(box=None, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    if info.columns:
        cols = Table(box=None, header_style="bold", title="schema", title_justify="left")
        cols.add_column("COLUMN")
        cols.add_column("TYPE")
        for c in info.columns:
            cols.add_row(c.name, c.type)
        console.print(cols)


# -- data --------------------------------------------------------------------------------------
@click.group("data")
def data_group() -> None:
    """Versioned data assets (NAME:VERSION) with lineage."""


@data_group.command("create")
@click.argument("name")
@click.argument("source")
@click.option(
    "--kind", type=click.Choice(["file", "folder", "table"]), help="Default: from the source."
)
@click.option("--datastore", "-d", help="Where uploads go (default: the workspace's datastore).")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), help="Tables.")
@click.option("--description", default="")
@click.option("--tag", "tags", multiple=True, help="KEY=VALUE tag.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def data_create(
    ctx: CliContext,
    name: str,
    source: str,
    kind: str | None,
    datastore: str | None,
    fmt: str | None,
    description: str,
    tags: tuple[str, ...],
    as_json: bool,
) -> None:
    """Register SOURCE (a local path, uploaded; or a URI on a datastore, referenced) as NAME.

    Identical content returns the existing version; changed content makes the next one.
    """
    asset = ctx.ws.data.create(
        name,
        source,
        kind=kind,
        datastore=datastore,
        format=fmt,
        description=description,
        tags=_pairs(tags, "--tag"),
    )
    if as_json:
        print_json(asset.info)
        return
    console.print(
        f"[bold]{asset.ref}[/] {asset.kind.value}, {size(asset.info.size_bytes)} in "
        f"{asset.info.file_count} file(s)"
        + (f", {asset.info.row_count} rows" if asset.info.row_count is not None else "")
        + f" — {asset.info.uri}"
    )


@data_group.command("list")
@click.option("--text", "-q", help="Part of the name.")
@click.option("--all", "include_archived", is_flag=True, help="Archived assets too.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def data_list(ctx: CliContext, text: str | None, include_archived: bool, as_json: bool) -> None:
    """Data assets, newest version of each."""
    infos = ctx.ws.data.list(text=text, include_archived=include_archived)
    if as_json:
        print_json(infos)
        return
    if not infos:
        console.print("no data assets (create one with `mlbench data create NAME PATH`)")
        return
    console.print(versions_table(infos, by_name=True))


@data_group.command("show")
@click.argument("ref")
@click.option("--rows", "-n", type=int, default=5, show_default=True, help="Table rows to show.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def data_show(ctx: CliContext, ref: str, rows: int, as_json: bool) -> None:
    """One version (REF is NAME, NAME:VERSION or NAME@latest) and its preview."""
    info = ctx.ws.data.info(ref)
    if as_json:
        print_json(info)
        return
    version_details(info)
    if rows > 0:
        preview = ctx.ws.data.preview(info, rows)
        if preview.rows is not None and preview.columns:
            table = Table(header_style="bold", title="preview", title_justify="left")
            for c in preview.columns:
                table.add_column(c.name)
            for row in preview.rows:
                table.add_row(*(str(row.get(c.name)) for c in preview.columns))
            console.print(table)
        elif preview.files:
            for f in preview.files[:rows]:
                console.print(f"  {f.path}  [dim]{size(f.size)}[/]")
            if preview.file_count > rows:
                console.print(f"  [dim]... {preview.file_count - rows} more[/]")


@data_group.command("versions")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def data_versions(ctx: CliContext, name: str, as_json: bool) -> None:
    """Every version of NAME, newest first."""
    infos = ctx.ws.data.versions(name)
    if as_json:
        print_json(infos)
        return
    console.print(versions_table(infos, by_name=False))


@data_group.command("download")
@click.argument("ref")
@click.option("--to", "dest", default=".", show_default=True, type=click.Path(file_okay=False))
@pass_ctx
def data_download(ctx: CliContext, ref: str, dest: str) -> None:
    """Copy a version into folder --to (a folder asset becomes DEST/NAME)."""
    path = ctx.ws.data.download(ref, dest)
    click.echo(str(path))


@data_group.command("lineage")
@click.argument("ref")
@click.option("--depth", type=int, default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def data_lineage(ctx: CliContext, ref: str, depth: int, as_json: bool) -> None:
    """Which jobs made REF and what they read; which jobs read it and what they made."""
    graph = ctx.ws.data.lineage(ref, depth=depth)
    if as_json:
        print_json(graph)
        return
    nodes = {n.id: n for n in graph.nodes}
    into: dict[str, list[Any]] = {}
    out_of: dict[str, list[Any]] = {}
    for e in graph.edges:
        into.setdefault(e.target, []).append(e)
        out_of.setdefault(e.source, []).append(e)

    def label(node_id: str) -> str:
        n = nodes[node_id]
        if n.type == "job":
            return f"[cyan]job {n.label}[/] [dim]{n.status}[/]"
        mark = "[bold]" if node_id == graph.root else ""
        return f"{mark}{n.label}{'[/]' if mark else ''}" + (
            " [dim](archived)[/]" if n.archived else ""
        )

    def grow(
        tree: Tree, node_id: str, edges: dict[str, list[Any]], upward: bool, seen: set[str]
    ) -> None:
        for e in edges.get(node_id, []):
            nxt = e.source if upward else e.target
            verb = (
                ("made by" if e.direction == "output" else "read")
                if upward
                else ("read by" if e.direction == "input" else "made")
            )
            branch = tree.add(f"[dim]{verb} ({e.binding})[/] {label(nxt)}")
            if nxt not in seen:
                grow(branch, nxt, edges, upward, seen | {nxt})

    up = Tree(f"{label(graph.root)} [dim]comes from[/]")
    grow(up, graph.root, into, True, {graph.root})
    down = Tree(f"{label(graph.root)} [dim]goes into[/]")
    grow(down, graph.root, out_of, False, {graph.root})
    console.print(up if into.get(graph.root) else f"{label(graph.root)}: no producing job")
    console.print(down if out_of.get(graph.root) else f"{label(graph.root)}: read by no job")
    if graph.truncated:
        console.print(f"[dim](cut at depth {depth}; pass --depth for more)[/]")


@data_group.command("archive")
@click.argument("ref")
@click.option("--restore", is_flag=True, help="Undo an archive.")
@pass_ctx
def data_archive(ctx: CliContext, ref: str, restore: bool) -> None:
    """Hide a version (NAME:VERSION) or a whole asset (NAME) from lists and from latest."""
    infos = ctx.ws.data.archive(ref, restore=restore)
    verb = "restored" if restore else "archived"
    console.print(f"{verb}: " + ", ".join(i.ref for i in infos))


# -- datastores --------------------------------------------------------------------------------
@click.group("datastore")
def datastore_group() -> None:
    """Named connections to storage (local folders, S3, Azure Blob, GCS)."""


@datastore_group.command("create")
@click.argument("name")
@click.option(
    "--type",
    "kind",
    required=True,
    help="local, s3, azureblob or gcs.",
)
@click.option("--path", help="local: the folder.")
@click.option("--bucket", help="s3, gcs: the bucket.")
@click.option("--container", help="azureblob: the container.")
@click.option("--account-name", help="azureblob: the storage account.")
@click.option("--prefix", help="Folder inside the bucket or container.")
@click.option("--endpoint-url", help="S3-compatible storage, Azurite, a GCS emulator.")
@click.option("--region", help="s3: the region.")
@click.option("--anonymous", is_flag=True, default=None, help="Public data: no credentials.")
@click.option(
    "--credential",
    "credentials",
    multiple=True,
    help="NAME=VALUE (e.g. secret_access_key=...), stored apart and never shown; "
    "NAME=@file reads the value from a file, NAME=- from standard input.",
)
@click.option("--read-only", is_flag=True)
@click.option("--description", default="")
@click.option("--no-verify", is_flag=True, help="Save it without testing it first.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def datastore_create(
    ctx: CliContext,
    name: str,
    kind: str,
    credentials: tuple[str, ...],
    read_only: bool,
    description: str,
    no_verify: bool,
    as_json: bool,
    **settings: Any,
) -> None:
    """Register a datastore; it must answer a test first (unless --no-verify)."""
    config = {k: v for k, v in settings.items() if v is not None}
    info = ctx.ws.datastores.create(
        name,
        kind,
        description=description,
        credentials=_credentials(credentials),
        read_only=read_only,
        verify=not no_verify,
        **config,
    )
    if as_json:
        print_json(info)
    else:
        console.print(f"datastore [bold]{info.name}[/] ({info.kind}) at {info.uri}")


def _credentials(items: tuple[str, ...]) -> dict[str, str]:
    import sys
    from pathlib import Path

    out = _pairs(items, "--credential")
    for key, value in out.items():
        if value == "-":
            out[key] = sys.stdin.readline().rstrip("\n")
        elif value.startswith("@"):
            out[key] = Path(value[1:]).expanduser().read_text().strip()
    return out


@datastore_group.command("update")
@click.argument("name")
@click.option("--path", help="local: the folder.")
@click.option("--bucket", help="s3, gcs: the bucket.")
@click.option("--container", help="azureblob: the container.")
@click.option("--account-name", help="azureblob: the storage account.")
@click.option("--prefix", help="Folder inside the bucket or container.")
@click.option("--endpoint-url", help="S3-compatible storage, Azurite, a GCS emulator.")
@click.option("--region", help="s3: the region.")
@click.option(
    "--credential",
    "credentials",
    multiple=True,
    help="NAME=VALUE to set (NAME=- reads standard input, NAME=@file a file).",
)
@click.option("--remove-credential", "removed", multiple=True, help="NAME to remove.")
@click.option("--read-only/--read-write", default=None)
@click.option("--description")
@click.option("--no-verify", is_flag=True, help="Save it without testing it first.")
@pass_ctx
def datastore_update(
    ctx: CliContext,
    name: str,
    credentials: tuple[str, ...],
    removed: tuple[str, ...],
    read_only: bool | None,
    description: str | None,
    no_verify: bool,
    **settings: Any,
) -> None:
    """Change a datastore's settings or credentials; it is tested again (unless --no-verify)."""
    creds: dict[str, str | None] = {**_credentials(credentials), **dict.fromkeys(removed)}
    info = ctx.ws.datastores.update(
        name,
        description=description,
        credentials=creds or None,
        read_only=read_only,
        verify=not no_verify,
        **{k: v for k, v in settings.items() if v is not None},
    )
    console.print(
        f"datastore [bold]{info.name}[/] ({info.kind}) at {info.uri}; credentials: "
        + (", ".join(info.credentials) or "none")
    )


@datastore_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def datastore_list(ctx: CliContext, as_json: bool) -> None:
    """Datastores (credentials by name only)."""
    infos = ctx.ws.datastores.list()
    if as_json:
        print_json(infos)
        return
    table = Table(box=None, header_style="bold")
    for col in ("NAME", "KIND", "URI", "CREDENTIALS", "MODE"):
        table.add_column(col, no_wrap=True)
    for i in infos:
        table.add_row(
            i.name + (" (default)" if i.is_default else ""),
            i.kind,
            i.uri,
            ", ".join(i.credentials) or "-",
            "read-only" if i.read_only else "read-write",
        )
    console.print(table)


@datastore_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def datastore_show(ctx: CliContext, name: str, as_json: bool) -> None:
    """One datastore: its settings and the names (never values) of its credentials."""
    info = ctx.ws.datastores.get(name)
    if as_json:
        print_json(info)
        return
    table = Table(box=None, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("name", info.name)
    table.add_row("kind", info.kind)
    table.add_row("uri", info.uri)
    for key, value in info.config.items():
        table.add_row(key, str(value))
    table.add_row("credentials", ", ".join(info.credentials) or "-")
    table.add_row("mode", "read-only" if info.read_only else "read-write")
    if info.description:
        table.add_row("description", info.description)
    table.add_row("created", when(info.created_at))
    console.print(table)


@datastore_group.command("test")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def datastore_test(ctx: CliContext, name: str, as_json: bool) -> None:
    """Check that NAME is reachable, can be listed and (when writable) written; exit 1 if not."""
    result = ctx.ws.datastores.test(name)
    if as_json:
        print_json(result)
    else:
        mark = "[green]ok[/]" if result.ok else "[red]failed[/]"
        console.print(f"{name}: {mark} — {result.message} ({result.elapsed_ms:.0f} ms)")
    if not result.ok:
        raise SystemExit(1)


@datastore_group.command("delete")
@click.argument("name")
@pass_ctx
def datastore_delete(ctx: CliContext, name: str) -> None:
    """Delete a datastore no data version lives on (its data is left in place)."""
    ctx.ws.datastores.delete(name)
    console.print(f"deleted datastore {name}")
