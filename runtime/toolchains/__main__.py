"""``python -m runtime.toolchains SOURCE... [--out-dir DIR]``: build contracts and write each
module (and its source map) beside its source, or into DIR. Exit status 1 if a build fails."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from ..errors import SuperVMError
from . import build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime.toolchains", description=__doc__)
    parser.add_argument("sources", nargs="+", type=Path)
    parser.add_argument("--out-dir", type=Path, help="where to write the modules")
    parser.add_argument("--cache-dir", type=Path, help="the build cache (default: the user's)")
    args = parser.parse_args(argv)
    status = 0
    for source in args.sources:
        start = time.perf_counter()
        try:
            b = build(source, cache_dir=args.cache_dir)
        except SuperVMError as e:
            print(f"{source}: {e}", file=sys.stderr)
            status = 1
            continue
        out_dir = args.out_dir or (b.source.parent)
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / b.wasm_path.name
        shutil.copyfile(b.wasm_path, target)
        if b.map_path is not None:
            shutil.copyfile(b.map_path, out_dir / b.map_path.name)
        how = "cached" if b.cached else f"built in {time.perf_counter() - start:.2f} s"
        print(f"{target}: {len(b.wasm):,} bytes, {b.compiler_version}, {how}")
    return status


if __name__ == "__main__":
    sys.exit(main())
