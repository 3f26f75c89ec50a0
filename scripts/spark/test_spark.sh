#!/usr/bin/env bash
# The Spark test: scripts/spark/joblabel_spark.py in Spark's local mode (local[2]) against the
# single-machine `joblabel classify` on a 100,000-posting scale corpus, plus its failure and refusal
# paths (scripts/spark/test_spark.py). Run from the end of scripts/test.
#
# Needs Java 17+ (`java`, or $JAVA_HOME/bin/java) and pyspark, which it installs from PyPI into
# scripts/.venv when missing (about a minute; retried once). Without either it prints one line and
# exits 0. JOBLABEL_SPARK=0 skips it; JOBLABEL_SPARK=1 makes a missing Java or a failed install an error.
# JOBLABEL_SPARK_VENV puts the virtual environment elsewhere.
# Uses $JOBLABEL_BIN (default .build/release/joblabel, built when missing) and Models/default.
set -euo pipefail
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
repo_root="$(cd "$script_dir/../.." && pwd -P)"
venv="${JOBLABEL_SPARK_VENV:-$repo_root/scripts/.venv}"
pyspark_req="pyspark==4.3.0"
mode="${JOBLABEL_SPARK:-auto}"

skip() {
    if [ "$mode" = 1 ]; then
        echo "spark test: FAILED: $* (JOBLABEL_SPARK=1 requires it)" >&2
        exit 1
    fi
    echo "spark test: skipped: $*"
    exit 0
}

[ "$mode" = 0 ] && { echo "spark test: skipped: JOBLABEL_SPARK=0"; exit 0; }

java_bin="java"
[ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && java_bin="$JAVA_HOME/bin/java"
command -v "$java_bin" >/dev/null 2>&1 || skip "no Java (Spark needs Java 17+: apt-get install openjdk-17-jre-headless)"
java_version="$("$java_bin" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -1)"
java_major="${java_version%%.*}"
[ "$java_major" = 1 ] && java_major="$(echo "$java_version" | cut -d. -f2)"
case "$java_major" in
    ''|*[!0-9]*) skip "cannot read the Java version from '$java_bin -version'" ;;
esac
[ "$java_major" -ge 17 ] || skip "Java $java_version is too old (Spark 4 needs Java 17+)"

if ! { [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import pyspark' >/dev/null 2>&1; }; then
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv" >/dev/null 2>&1 || skip "cannot create $venv (apt-get install python3-venv)"
    fi
    echo "spark test: installing $pyspark_req from PyPI into $venv" >&2
    pip_log="$(mktemp)"
    trap 'rm -f "$pip_log"' EXIT
    installed=0
    for attempt in 1 2; do
        if timeout 200 "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            --retries 2 --timeout 30 "$pyspark_req" >"$pip_log" 2>&1; then
            installed=1
            break
        fi
        [ "$attempt" = 1 ] && { echo "spark test: pip install failed; retrying once in 5 s" >&2; sleep 5; }
    done
    if [ "$installed" != 1 ]; then
        reason="$(grep -E 'ERROR|rror' "$pip_log" | tail -1 | cut -c1-200)"
        skip "could not install $pyspark_req from PyPI (is PyPI reachable?): ${reason:-pip install timed out}"
    fi
    "$venv/bin/python" -c 'import pyspark' >/dev/null 2>&1 || skip "$pyspark_req installed but does not import"
fi

binary="${JOBLABEL_BIN:-$repo_root/.build/release/joblabel}"
if [ ! -x "$binary" ]; then
    echo "spark test: building $binary" >&2
    (cd "$repo_root" && swift build -c release --product joblabel >&2)
    binary="$repo_root/.build/release/joblabel"
fi

export SPARK_LOCAL_IP=127.0.0.1
export PYSPARK_PYTHON="$venv/bin/python"
export PYSPARK_DRIVER_PYTHON="$venv/bin/python"
exec "$venv/bin/python" "$script_dir/test_spark.py" --binary "$binary" --model "$repo_root/Models/default" "$@"
