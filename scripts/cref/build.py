"""Builds the C reference (cref.c) once: Unicode tables from this Python (gen_tables.py), then
`gcc -O2 -march=native -pthread`. The binary is cached under OUT_DIR, keyed by a hash of the sources, the
compiler's version and the Python (Unicode) version, so an edit or another compiler rebuilds it.

    python3 scripts/cref/build.py [OUT_DIR]     prints the binary's path
"""
import hashlib
import os
import subprocess
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(os.path.dirname(HERE), ".bench-data", "cref")
FLAGS = ["-O2", "-march=native", "-pthread", "-Wall", "-Wextra"]


def build(out_dir=DEFAULT_OUT, cc="gcc"):
    """Returns the path of the compiled C reference, building it when the cached one is stale."""
    try:
        cc_version = subprocess.run([cc, "--version"], stdout=subprocess.PIPE, check=True).stdout.decode().splitlines()[0]
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"cref: cannot run {cc} ({e}); the C reference needs a C compiler (apt-get install gcc)")
    key = hashlib.sha256()
    for name in ("cref.c", "gen_tables.py"):
        with open(os.path.join(HERE, name), "rb") as f:
            key.update(f.read())
    key.update(" ".join([cc_version, unicodedata.unidata_version] + FLAGS).encode())
    os.makedirs(out_dir, exist_ok=True)
    binary = os.path.join(out_dir, "cref-" + key.hexdigest()[:12])
    if os.path.exists(binary):
        return binary
    tables = os.path.join(out_dir, "utables.h")
    subprocess.run([sys.executable, os.path.join(HERE, "gen_tables.py"), tables + ".tmp"], check=True)
    os.replace(tables + ".tmp", tables)
    subprocess.run([cc] + FLAGS + ["-I", out_dir, "-o", binary + ".tmp", os.path.join(HERE, "cref.c")], check=True)
    os.replace(binary + ".tmp", binary)
    return binary


if __name__ == "__main__":
    print(build(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT))
