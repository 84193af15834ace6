#!/usr/bin/env bash
# One entry point for a fresh clone: creates .venv, installs poseloop into it, then
#   ./dev.sh demo OUTDIR   -> runs `poseloop demo OUTDIR` (synthetic project, train, export, analyze)
#   ./dev.sh test [ARGS]   -> runs the test suite (pytest ARGS; -m "not slow and not gpu and not
#                             interop" unless ARGS give -m; the interop suite, after
#                             tools/make_interop_env.sh: ./dev.sh test -m interop tests/interop)
#   ./dev.sh poseloop ...  -> any poseloop command
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[test]"
    touch "$stamp"
fi
cmd=${1:-test}
shift || true
case "$cmd" in
    demo) exec .venv/bin/poseloop demo "${@:-demo-out}" ;;
    test)
        export QT_QPA_PLATFORM=offscreen
        # the default markers stay unless the arguments choose their own with -m
        case " $* " in *" -m "*|*" -m"*) ;; *) set -- -m "not slow and not gpu and not interop" "$@" ;; esac
        exec .venv/bin/python -m pytest -q "$@" ;;
    poseloop) exec .venv/bin/poseloop "$@" ;;
    *) echo "usage: ./dev.sh demo OUTDIR | test [pytest args] | poseloop ARGS" >&2; exit 2 ;;
esac
