"""Build Bear's Lambda artifact: ``dist/bear-lambda.zip`` (``make bear-package``).

The zip holds, at its root (Lambda's ``/var/task``):

* the base dependencies and the ``bear`` extra of pyproject.toml, installed with
  ``pip install --target`` as **manylinux2014 x86_64 wheels for CPython 3.12** (the runtime of
  deploy/bear/template.yaml) — never the build machine's own wheels;
* dgsync's packages the functions import: ``core``, ``wolf_fastapi``, ``bear_lambda``,
  ``mcp_server`` (the MCP server Wolf mounts at ``/mcp``), and the shared ``templates/`` and ``static/`` (``wolf_fastapi.web`` finds them beside the packages).

Not in it: moto, Flask, Playwright, the emulator (``doubles``), Dog and the CLI
(the extras that pull them in are not installed; :func:`check` fails the build if one sneaks
in through a dependency). Prints the zipped and unzipped sizes; Lambda's limits are 50 MB
zipped (direct upload) and 250 MB unzipped.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "wolf_fastapi", "bear_lambda", "mcp_server")
DATA_DIRS = ("templates", "static")
#: Top-level names that must never be in the artifact.
FORBIDDEN = ("moto", "flask", "playwright", "doubles", "dog_flask", "dgsync_cli", "pytest", "werkzeug")
ZIP_LIMIT = 50 * 1024 * 1024
UNZIPPED_LIMIT = 250 * 1024 * 1024
PLATFORM = "manylinux2014_x86_64"
PYTHON_VERSION = "3.12"


def requirements() -> list[str]:
    """The base dependencies plus the ``bear`` extra, as pinned in pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["bear"]]


def install(target: Path, *, pip: list[str]) -> None:
    subprocess.run(
        [*pip, "install", "--quiet", "--target", str(target), "--platform", PLATFORM, "--implementation", "cp",
         "--python-version", PYTHON_VERSION, "--only-binary=:all:", "--no-compile", *requirements()],
        check=True,
    )
    for package in PACKAGES:
        shutil.copytree(ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for folder in DATA_DIRS:
        shutil.copytree(ROOT / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for cache in list(target.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)


def check(target: Path) -> list[str]:
    """Forbidden top-level packages found in ``target`` (empty: fine)."""
    found = []
    for entry in target.iterdir():
        name = entry.name.lower().split("-")[0].removesuffix(".py")
        if name in FORBIDDEN:
            found.append(entry.name)
    return sorted(found)


def write_zip(source: Path, zip_path: Path) -> int:
    """Zip ``source`` deterministically; return the unzipped size in bytes."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    total = 0
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(source)), date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            total += len(data)
            zf.writestr(info, data)
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "dist" / "bear-lambda.zip")
    parser.add_argument("--pip", default=f"{sys.executable} -m pip", help="The pip command to use.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bear-lambda-") as tmp:
        target = Path(tmp) / "bundle"
        install(target, pip=args.pip.split())
        forbidden = check(target)
        if forbidden:
            print(f"error: the artifact would contain {', '.join(forbidden)}; "
                  "a base or bear dependency pulls it in - remove it from pyproject.toml", file=sys.stderr)
            return 1
        unzipped = write_zip(target, args.output)
    zipped = args.output.stat().st_size
    print(f"{args.output}: {zipped / 1e6:.1f} MB zipped (limit 50 MB), "
          f"{unzipped / 1e6:.1f} MB unzipped (limit 250 MB)")
    if zipped > ZIP_LIMIT or unzipped > UNZIPPED_LIMIT:
        print("error: the artifact is over Lambda's size limit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
