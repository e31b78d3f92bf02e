# Source this to use the pip-only set-up in a shell: `. scripts/env.sh`.
# The source tree comes first on PYTHONPATH; the colcon install adds the generated messages.
_nermo_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$_nermo_repo/.venv/bin:$PATH"
export PYTHONPATH="$_nermo_repo:$_nermo_repo/install/nermo_ros/lib/python3.11/site-packages${PYTHONPATH:+:$PYTHONPATH}"
export LD_LIBRARY_PATH="$_nermo_repo/install/nermo_ros/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export AMENT_PREFIX_PATH="$_nermo_repo/install/nermo_ros:$(realpath "$_nermo_repo/.venv")${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
unset _nermo_repo
