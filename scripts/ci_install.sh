#!/usr/bin/env bash
# CI: perpsim as a user gets it. Builds the sdist and the wheel, installs each into a fresh
# virtualenv outside the repository with Node hidden from PATH, and runs a short scenario, the
# tour and the pytest plugin example in each, and in the wheel's the base-install checks: every
# command either works or says in one line what it needs (an extra, or Node).
#   - the wheel is built from the repository (the build hook compiles with ./node_modules);
#   - the sdist is installed with pip, which builds its wheel on the Node-less PATH, so that wheel
#     carries the artifacts the sdist shipped.
# Usage: scripts/ci_install.sh [PYTHON]   (default .venv/bin/python, which has `build`)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PYTHON=${1:-$REPO/.venv/bin/python}
started=$SECONDS
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; echo "ci_install: $((SECONDS - started)) s with the clean-up"' EXIT
trap 'echo "ci_install: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
set -E

# A PATH without node, npm or anvil: every other program of the current PATH, linked into one dir.
NO_NODE_BIN=$WORK/no-node-bin
mkdir -p "$NO_NODE_BIN"
IFS=: read -ra path_dirs <<<"$PATH"
for dir in "${path_dirs[@]}"; do
    [ -d "$dir" ] || continue
    for program in "$dir"/*; do
        name=${program##*/}
        case $name in node|nodejs|npm|npx|corepack|anvil) continue ;; esac
        [ -x "$program" ] && [ ! -e "$NO_NODE_BIN/$name" ] && ln -s "$program" "$NO_NODE_BIN/$name"
    done
done
if PATH=$NO_NODE_BIN command -v node >/dev/null || PATH=$NO_NODE_BIN command -v npm >/dev/null; then
    echo "ci_install: could not hide Node from PATH" >&2
    exit 1
fi

"$PYTHON" -m build --sdist --outdir "$WORK/dist" "$REPO" >"$WORK/build-sdist.log" 2>&1 \
    || { cat "$WORK/build-sdist.log"; exit 1; }
"$PYTHON" -m build --wheel --outdir "$WORK/dist" "$REPO" >"$WORK/build-wheel.log" 2>&1 \
    || { cat "$WORK/build-wheel.log"; exit 1; }
sdist=$(echo "$WORK"/dist/perpsim-*.tar.gz)
wheel=$(echo "$WORK"/dist/perpsim-*.whl)
echo "ci_install: built $(basename "$sdist") ($(stat -c %s "$sdist") bytes), $(basename "$wheel") ($(stat -c %s "$wheel") bytes)"
pytest_pin=$("$PYTHON" -c 'import re, tomllib; dev = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["dev"]; print(next(r for r in dev if re.match(r"pytest==", r)))')

# Every dependency once, as wheels (from pip's cache when warm): both venvs install from here, and
# pip builds the sdist's wheel with the setuptools and wheel found here.
"$PYTHON" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$WORK/wheels" \
    "$wheel" "$pytest_pin" "setuptools>=68" wheel >"$WORK/pip-wheel.log" 2>&1 \
    || { cat "$WORK/pip-wheel.log"; exit 1; }

mark=$started
step() {  # prints what just finished and its seconds
    echo "  $1 ($((SECONDS - mark)) s)"
    mark=$SECONDS
}
step "built the sdist and the wheel, collected the dependencies"

# Runs `perpsim ARGS...`, expects exit code 1 and one line naming NEEDLE, no traceback.
expect_one_line() {
    local needle=$1; shift
    local out status=0
    out=$(perpsim "$@" 2>&1) || status=$?
    if [ "$status" -ne 1 ] || [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ] \
        || [[ $out != *"$needle"* ]] || [[ $out == *Traceback* ]]; then
        echo "ci_install: perpsim $* should fail in one line naming '$needle' (exit $status):" >&2
        printf '%s\n' "$out" >&2
        return 1
    fi
    echo "  perpsim $*: $out"
}

check_install() {  # $1: label, $2: what to pip install
    local label=$1 target=$2 venv=$WORK/venv-$1 home=$WORK/user-$1
    mark=$SECONDS
    echo "ci_install: [$label] pip install $(basename "$target") (no Node on PATH)"
    mkdir -p "$home"
    "$PYTHON" -m venv "$venv"
    (
        cd "$home"
        export PATH=$venv/bin:$NO_NODE_BIN PERPSIM_CACHE=$home/cache
        unset PYTHONPATH VIRTUAL_ENV
        python -m pip install --quiet --disable-pip-version-check --no-compile --no-index \
            --find-links "$WORK/wheels" "$target" "$pytest_pin" \
            >"$home/pip.log" 2>&1 || { cat "$home/pip.log"; exit 1; }
        step "installed"
        python - <<'EOF'
import protocol, pathlib
here = pathlib.Path(protocol.__file__).resolve()
assert "site-packages" in here.parts, here  # the installed copy, not the repository
assert (here.parent / "artifacts" / "manifest.json").exists() and (here.parent / "contracts").is_dir()
EOF
        [[ $(perpsim compile 2>/dev/null) == *"contracts up to date"* ]]
        [[ $(perpsim compile --sizes 2>/dev/null) == *"| Clearinghouse |"* ]]
        perpsim scenarios >/dev/null
        perpsim run default --blocks 50 --backend revm --out "$home/out" >/dev/null
        step "perpsim run default --blocks 50"
        perpsim tour >/dev/null
        step "perpsim tour"
        cp "$REPO/examples/test_liquidation.py" .
        python -m pytest -p perpsim -q -p no:cacheprovider --perpsim-backend all test_liquidation.py \
            | tail -1
        step "pytest -p perpsim test_liquidation.py"
        [ "$label" = wheel ] || exit 0  # the same code: the rest once is enough
        perpsim sweep default --set blocks=5 --set agents.count=2 --seeds 1 --workers 1 \
            --out "$home/sweep" >/dev/null
        step "a local sweep"
        expect_one_line "perpsim[fuzz]" fuzz --steps 1
        expect_one_line "perpsim[ray]" sweep default --engine ray --seeds 1
        expect_one_line "Node.js" compile --force
        expect_one_line "Node.js" compile --contracts "$REPO/examples/custom_module"
        expect_one_line "Node.js" run default --blocks 5 --contracts "$REPO/examples/custom_module" \
            --set venue.modules.rates=DeadBandRates
        expect_one_line "Node.js" bench --quick --out "$home/bench"
        step "base-install checks"
    )
}

check_install wheel "$wheel"
check_install sdist "$sdist"
echo "ci_install: ok in $((SECONDS - started)) s"
