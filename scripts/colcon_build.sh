#!/usr/bin/env bash
# Build this package (and, into the venv, the interface packages no wheel provides) with colcon
# against the pip-installed ROS 2 wheels of the venv.
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
cmake_args=(-DPython3_EXECUTABLE="$py" -DPYTHON_EXECUTABLE="$py" -DBUILD_TESTING=OFF)

# The interface packages no wheel provides (interfaces/: hri_msgs, people_msgs, tf2_msgs) go into
# the venv, which stands where /opt/ros/<distro> stands in a ROS installation; in a ROS
# workspace interfaces/COLCON_IGNORE hides them and the distribution's packages are used. Each
# is named as a base path of its own (the ignore marker sits in their parent), built once per
# version of their files, copied (not linked: the venv outlives any build folder).
interfaces_hash=$(find "$repo/interfaces" -type f | LC_ALL=C sort | xargs cat | sha256sum \
  | cut -c1-16)
interfaces_stamp="$venv/.nermo-interfaces-$interfaces_hash"
if [ ! -f "$interfaces_stamp" ]; then
  "$venv/bin/colcon" --log-base "$base/log" build --merge-install \
    --base-paths "$repo"/interfaces/*/ --build-base "$venv/.nermo-build-interfaces" \
    --install-base "$venv" --cmake-args "${cmake_args[@]}" \
    >"$base/log/colcon-build-interfaces.txt" 2>&1 \
    || { cat "$base/log/colcon-build-interfaces.txt" >&2
         echo "colcon_build.sh: building the interface packages failed (log above)" >&2; exit 1; }
  rm -f "$venv"/.nermo-interfaces-*
  touch "$interfaces_stamp"
fi

"$venv/bin/colcon" --log-base "$base/log" build --base-paths "$repo" \
  --build-base "$base/build" --install-base "$base/install" "$@" \
  --cmake-args "${cmake_args[@]}" \
  >"$base/log/colcon-build.txt" 2>&1 \
  || { cat "$base/log/colcon-build.txt" >&2; echo "colcon_build.sh: colcon build failed (log above)" >&2; exit 1; }
