#!/usr/bin/env bash
# Set up the pip-only environment in this checkout: a project-local venv with the pinned
# ROS 2 Kilted wheels, torch, mediapipe, ONNX Runtime and rosbags, then a colcon build of this
# package's messages. Idempotent: each step is skipped when its inputs have not changed.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The venv lives outside the source tree (CMake refuses include dirs inside the package's
# source dir, and numpy's headers are in the venv); `.venv` in the checkout links to it.
venv_home="${NERMO_VENV_DIR:-$HOME/.cache/nermo_ros/venvs/$(echo "$repo" | sha256sum | cut -c1-12)}"
venv="$repo/.venv"
python_bin="${PYTHON:-python3.11}"
command -v "$python_bin" >/dev/null || python_bin=python3
log() { echo "[setup] $*" >&2; }

if [ ! -x "$venv/bin/python" ]; then
  log "creating virtual environment $venv_home (linked as $venv)"
  mkdir -p "$(dirname "$venv_home")"
  "$python_bin" -m venv "$venv_home"
  rm -rf "$venv"
  ln -sfn "$venv_home" "$venv"
fi
venv="$(realpath "$venv")"  # from here on, the real path: CMake must not see the link
py="$venv/bin/python"
lock_hash=$(cat "$repo/requirements.lock" "$repo/setup.py" | sha256sum | cut -c1-16)
stamp="$venv/.nermo-installed-$lock_hash"
if [ ! -f "$stamp" ]; then
  log "installing pinned packages (about 2 minutes the first time)"
  "$py" -m pip install -q --disable-pip-version-check -r "$repo/requirements.lock"
  "$py" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e "$repo"
  rm -f "$venv"/.nermo-installed-*
  touch "$stamp"
fi

# The ROS wheels' CMake exports name the wheel builder's Python and numpy include dirs; point
# them at this venv's, or the rosidl Python generator cannot compile our messages.
py_inc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
np_inc=$(realpath "$("$py" -c 'import numpy; print(numpy.get_include())')")
if grep -lq "/opt/python/cp311" "$venv"/share/*/cmake/*Export.cmake 2>/dev/null; then
  log "pointing the ROS wheels' CMake exports at this venv's include dirs"
  grep -l "/opt/python/cp311" "$venv"/share/*/cmake/*Export.cmake | xargs sed -i \
    -e "s#/opt/python/cp311-cp311/include/python3.11#$py_inc#g" \
    -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$np_inc#g"
fi
touch "$venv/COLCON_IGNORE"

msg_hash=$(cat "$repo"/msg/*.msg "$repo"/interfaces/*/msg/*.msg "$repo/CMakeLists.txt" \
  "$repo/package.xml" "$repo/scripts/colcon_build.sh" | sha256sum | cut -c1-16)
build_stamp="$repo/install/.nermo-built-$msg_hash"
# A venv made anew keeps no interface packages: build again then too.
if [ ! -f "$build_stamp" ] || ! compgen -G "$venv/.nermo-interfaces-*" >/dev/null; then
  log "building the nermo_ros messages with colcon"
  NERMO_VENV="$venv" "$repo/scripts/colcon_build.sh" "$repo" --symlink-install \
    || { log "colcon build failed (log above)"; exit 1; }
  touch "$build_stamp"
fi
# Compile the predictor node's default NeRMo step (ONNX graphs for every batch bucket) once per
# model, node configuration, graph code and dependency set, so that the node's first start
# serves at once.
cache_dir="${NERMO_CACHE_DIR:-$HOME/.cache/nermo_ros}"
engine_hash=$(cat "$repo/models/nermo_body17.pt" "$repo/config/predictor.yaml" "$repo/requirements.lock" \
  "$repo/nermo_ros/model.py" "$repo/nermo_ros/meta.py" "$repo/nermo_ros/engine/export.py" \
  | sha256sum | cut -c1-16)
engine_stamp="$cache_dir/node-engine-$engine_hash"
if [ ! -f "$engine_stamp" ]; then
  log "compiling the predictor node's default NeRMo step (once; about a minute)"
  (
    cd "$repo" && . "$repo/scripts/env.sh"
    "$py" -m nermo_ros.cli export --for-node config/predictor.yaml
  ) && mkdir -p "$cache_dir" && touch "$engine_stamp" \
    || log "warning: could not pre-compile the NeRMo step; the node will compile it at its first start"
fi

# --- Perception (own step): the PoseLandmarker bundle and the packages with real test videos ---
# The bundle is built from the installed mediapipe's own pose models and cached by their hashes
# ($NERMO_CACHE_DIR/pose or ~/.cache/nermo_ros/pose); the node builds it itself if this failed.
# The video packages (requirements-media.txt, pinned) go in without dependencies: only their
# video files are read.
media_stamp="$venv/.nermo-media-$(sha256sum "$repo/requirements-media.txt" | cut -c1-16)"
if [ ! -f "$media_stamp" ]; then
  log "installing the packages that ship real videos of people (requirements-media.txt)"
  "$py" -m pip install -q --disable-pip-version-check --no-deps -r "$repo/requirements-media.txt" \
    && rm -f "$venv"/.nermo-media-* && touch "$media_stamp" \
    || log "warning: could not install requirements-media.txt; the real-video tests will skip"
fi
pose_hash=$(cat "$repo/requirements.lock" "$repo/nermo_ros/perception/bundle.py" | sha256sum | cut -c1-16)
pose_stamp="$cache_dir/pose-bundle-$pose_hash"
if [ ! -f "$pose_stamp" ]; then
  log "building the PoseLandmarker bundle from the installed mediapipe's pose models"
  (
    cd "$repo" && . "$repo/scripts/env.sh"
    "$py" -m nermo_ros.commands.perception bundle >/dev/null
  ) && mkdir -p "$cache_dir" && touch "$pose_stamp" \
    || log "warning: could not build the pose bundle; the perception node will build it at its start"
fi
log "ready"
