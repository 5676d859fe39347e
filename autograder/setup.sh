#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu; see
# https://gradescope-autograders.readthedocs.io/en/latest/specs/). It installs the course's pinned
# environment into ROOT/venv: a Python 3.11 to 3.13, PyTorch @TORCH_VERSION@ (CPU build, from
# PyTorch's own index), the course's requirements less the book's, and the course package from
# this zip. ROOT is /autograder, or $AUTOGRADER_ROOT (to try it elsewhere).
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/venv"
TORCH_VERSION="@TORCH_VERSION@"
TORCH_INDEX="@TORCH_INDEX@"

supported() { "$1" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null; }
pick_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && supported "$candidate"; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Ubuntu 22.04's python3 is 3.10: take its python3.11 package; 24.04's python3 (3.12) is fine.
PY="$(pick_python)" || { apt-get install -y -qq python3.11 python3.11-venv; PY="$(pick_python)"; }
VERSION="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
apt-get install -y -qq "python$VERSION-venv" || true   # venv's pip (ensurepip), where it is apart

"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "torch==$TORCH_VERSION" --index-url "$TORCH_INDEX"
"$VENV/bin/python" -m pip install --quiet -r "$SOURCE/requirements.txt"
"$VENV/bin/python" -m pip install --quiet --no-deps -e "$SOURCE/course"
# Fail the image build here, not at the first submission, when something is missing.
"$VENV/bin/python" -c "import torch, nbval, relucourse.tooling.autograder as a; print('torch', torch.__version__, 'python', '$VERSION')"
