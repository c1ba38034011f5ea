"""DuckDB extensions loaded offline from their PyPI wheels (``duckdb-extension-<name>``).

A plain ``INSTALL fts`` downloads from DuckDB's extension site, which these machines cannot
reach. The wheels ship the binary for one DuckDB version at
``duckdb_extension_<name>/extensions/v<version>/<name>.duckdb_extension``; this module finds
it and ``LOAD``s it by path, or lays the files out as an ``extension_directory``
(``<dir>/v<version>/<platform>/<name>.duckdb_extension``) for extensions that DuckDB loads
by itself (DuckLake autoloads ``postgres_scanner`` and ``httpfs``).
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
from pathlib import Path

import duckdb

from analytics.errors import ConfigError

log = logging.getLogger(__name__)

#: Settings for every connection that may need an extension: never try to download one.
OFFLINE_CONFIG: dict[str, str | bool] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def duckdb_version() -> str:
    """``v1.5.5`` for duckdb 1.5.5: the folder name extension wheels use."""
    return "v" + duckdb.__version__.split("-")[0].split(".dev")[0]


def extension_path(name: str) -> Path:
    """The extension binary shipped by the ``duckdb-extension-<name>`` wheel."""
    package = f"duckdb_extension_{name}"
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"DuckDB extension {name!r} is not installed: `pip install"
            f" duckdb-extension-{name}=={duckdb_version()[1:]}` (the wheel matching duckdb"
            f" {duckdb.__version__})"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "extensions" / duckdb_version() / f"{name}.duckdb_extension"
    if not path.exists():
        found = sorted(p.name for p in (root / "extensions").glob("v*"))
        raise ConfigError(
            f"duckdb-extension-{name} ships {found or 'no builds'}, not {duckdb_version()}:"
            f" install duckdb-extension-{name}=={duckdb_version()[1:]}"
        )
    return path


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """``LOAD`` an extension from its wheel (idempotent, no network)."""
    loaded = con.execute(
        "SELECT loaded FROM duckdb_extensions() WHERE extension_name = ?", [name]
    ).fetchone()
    if loaded and loaded[0]:
        return
    con.execute(f"LOAD '{extension_path(name)}'")


def extension_directory(target: Path, names: tuple[str, ...]) -> Path:
    """Lay out the wheels' binaries as a DuckDB ``extension_directory`` under ``target``.

    Connect with ``config={"extension_directory": str(target), **OFFLINE_CONFIG}`` plus
    ``autoload_known_extensions=True`` when an extension must load others by itself.
    """
    probe = duckdb.connect()
    try:
        row = probe.execute("PRAGMA platform").fetchone()
    finally:
        probe.close()
    platform = str(row[0]) if row else "linux_amd64"
    folder = target / duckdb_version() / platform
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        dest = folder / f"{name}.duckdb_extension"
        src = extension_path(name)
        if not dest.exists() or dest.stat().st_size != src.stat().st_size:
            shutil.copyfile(src, dest)
            log.info("extension %s -> %s", name, dest)
    return target
