#!/usr/bin/env bash
# Build this package with colcon against the pip-installed ROS 2 wheels of the venv.
#
#   scripts/colcon_build.sh BASE [COLCON BUILD OPTIONS...]
#
# builds into BASE/build and BASE/install and logs into BASE/log (the colcon output in
# BASE/log/colcon-build.txt, printed when the build fails). setup.sh passes the checkout and
# --symlink-install; the install-space test passes a temporary folder and no options, to get
# the copies a ROS user gets. The venv is $NERMO_VENV, or the checkout's `.venv`.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
base="${1:?usage: colcon_build.sh BASE [COLCON BUILD OPTIONS...]}"
shift
venv="${NERMO_VENV:-$repo/.venv}"
[ -x "$venv/bin/colcon" ] || { echo "colcon_build.sh: no colcon in $venv; run scripts/setup.sh" >&2; exit 1; }
venv="$(realpath "$venv")"  # CMake must see the real path, not the link
py="$venv/bin/python"

mkdir -p "$base/log"
base="$(realpath "$base")"
cd "$repo"
export PATH="$venv/bin:$PATH" AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv"
export Python3_ROOT_DIR="$venv"
"$venv/bin/colcon" --log-base "$base/log" build --base-paths "$repo" \
  --build-base "$base/build" --install-base "$base/install" "$@" \
  --cmake-args -DPython3_EXECUTABLE="$py" -DPYTHON_EXECUTABLE="$py" -DBUILD_TESTING=OFF \
  >"$base/log/colcon-build.txt" 2>&1 \
  || { cat "$base/log/colcon-build.txt" >&2; echo "colcon_build.sh: colcon build failed (log above)" >&2; exit 1; }
