"""Start the nodes in one process (for `nermo-ros run`, the demo and tests).

`launch/predict.launch.py` starts the same two nodes as separate processes with the same YAML
files and the same ``input`` argument; this module is the pip-only equivalent: both nodes in
one process, each spun on its own thread. It does not call ``rclpy.init``; its callers do.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from nermo_ros.paths import find_package_data, package_data_candidates

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


def default_config(file_name: str) -> Path:
    """A YAML of the package's config/ folder, from the source tree or a colcon install."""
    found = find_package_data(f"config/{file_name}")
    if found is None:
        raise FileNotFoundError(
            f"config file {file_name!r} not found in "
            f"{[str(c) for c in package_data_candidates(f'config/{file_name}')]}"
            f"; pass a config path explicitly")
    return found


def input_overrides(text: str) -> dict[str, Any]:
    """Perception parameters for an ``input`` argument: a camera, a video file or a topic.

    "" keeps the perception config; "0" or "/dev/video0" is a camera; an existing file (or a
    name ending like a video) is a video file; anything else is a sensor_msgs/Image topic.
    """
    text = text.strip()
    if not text:
        return {}
    camera = re.fullmatch(r"(?:/dev/video)?(\d+)", text)
    if camera:
        return {"camera_device": int(camera.group(1))}
    if Path(text).is_file():
        return {"video_path": str(Path(text).resolve())}
    if text.lower().endswith(VIDEO_SUFFIXES):
        raise FileNotFoundError(f"input video {text!r} does not exist; give an existing file, "
                                f"a camera number or an image topic")
    return {"image_topic": text}


def camera_input_error(predictor_config: str | Path | None,
                       predictor_overrides: Mapping[str, Any] | None,
                       perception_config: str | Path | None,
                       perception_overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The predictor overrides that hand it the perception node's ``skeleton_error_m`` as its
    ``input_error_m`` (so its radius covers the person, not the camera's account of them);
    none when the predictor's file or overrides set their own, or the perception's is 0."""
    from nermo_ros.forecasting.settings import PARAMS as PREDICTOR_PARAMS
    from nermo_ros.nodes.perception_node import PARAMS as PERCEPTION_PARAMS
    from nermo_ros.parameters import defaults, merge_values

    predictor = merge_values(PREDICTOR_PARAMS, "predictor",
                             predictor_config or default_config("predictor.yaml"),
                             predictor_overrides)
    if any(predictor.get("input_error_m", [0.0])):
        return {}
    perception = {**defaults(PERCEPTION_PARAMS),
                  **merge_values(PERCEPTION_PARAMS, "perception",
                                 perception_config or default_config("perception.yaml"),
                                 perception_overrides)}
    error = perception["skeleton_error_m"]
    return {"input_error_m": [float(e) for e in error]} if any(error) else {}


def build_nodes(predictor_config: str | Path | None = None,
                predictor_overrides: Mapping[str, Any] | None = None,
                perception_config: str | Path | None = None,
                perception_overrides: Mapping[str, Any] | None = None,
                with_perception: bool = True) -> list:
    """The predictor node (and the perception node) with their YAML files and overrides; with
    the perception node, the predictor takes its skeletons' error (``camera_input_error``)."""
    from nermo_ros.nodes.predictor_node import PredictorNode

    if with_perception:
        predictor_overrides = {**camera_input_error(predictor_config, predictor_overrides,
                                                    perception_config, perception_overrides),
                               **(predictor_overrides or {})}

    nodes = [PredictorNode(predictor_config or default_config("predictor.yaml"),
                           predictor_overrides)]
    if with_perception:
        from nermo_ros.nodes.perception_node import PerceptionNode

        try:
            nodes.insert(0, PerceptionNode(perception_config or default_config("perception.yaml"),
                                           perception_overrides))
            check_video_stamps(nodes[0].settings, nodes[0].video_length_s,
                               nodes[-1].settings.max_stamp_age_s)
        except Exception:
            for node in nodes:
                node.destroy_node()
            raise
    return nodes


def check_video_stamps(perception: Mapping[str, Any], video_length_s: float,
                       max_stamp_age_s: float) -> None:
    """Refuse a video read frame by frame (``video_realtime: false``) next to a predictor that
    would drop its frames as stale: such a video is stamped at its own pace, which falls behind
    the clock as soon as perception is slower than the video (the only reason to read it so),
    by a share of the video's length that grows with the slowness; an age limit shorter than
    the video itself is all but sure to be passed."""
    if perception["video_path"] and not perception["video_realtime"] and \
            0 < max_stamp_age_s < video_length_s:
        raise ValueError(
            f"perception.video_realtime=false stamps the video's frames at its own pace, behind "
            f"the clock whenever perception is slower than the video; this one plays "
            f"{video_length_s:g} s, and the predictor drops frames older than max_stamp_age_s "
            f"({max_stamp_age_s:g} s): add --set predictor.max_stamp_age_s=0 (no age check) "
            f"or keep video_realtime")


def spin_until(nodes: list, should_stop: Callable[[], bool], poll_s: float = 0.05) -> None:
    """Spin each node on its own single-threaded executor and thread until ``should_stop()``.

    Nodes run in parallel (MediaPipe in the perception node does not hold up the predictor),
    while each executor stays single-threaded: rclpy's MultiThreadedExecutor costs about
    three times the CPU per message. The calling thread only polls ``should_stop``, so
    Ctrl-C lands there, and the executors are shut down before the caller destroys the nodes.
    """
    from rclpy.executors import SingleThreadedExecutor

    executors, threads = [], []
    for node in nodes:
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executors.append(executor)
        threads.append(threading.Thread(target=_spin_quietly, args=(executor,),
                                        name=node.get_name(), daemon=True))
    for thread in threads:
        thread.start()
    try:
        while all(thread.is_alive() for thread in threads) and not should_stop():
            time.sleep(poll_s)
    finally:
        for executor in executors:
            executor.shutdown(timeout_sec=2.0)
        for thread in threads:
            thread.join(timeout=2.0)


def _spin_quietly(executor) -> None:
    """Spin until shut down; Ctrl-C or SIGTERM shutting the context down is the normal end,
    also when it lands under a callback that was publishing (rcl then refuses the publish)."""
    from rclpy.executors import ExternalShutdownException
    from rclpy.subscription import RCLError  # rclpy's public name for rcl's error type

    try:
        executor.spin()
    except ExternalShutdownException:
        pass
    except RCLError:
        if executor.context.ok():
            raise


def spin_node_main(make_node: Callable[[], Any], args=None) -> None:
    """A node program's main(): init, spin until Ctrl-C or shutdown, clean up.

    A SIGTERM shuts the context down under a running callback (its publish then fails); that
    is a shutdown, not an error. Anything else still propagates.
    """
    import sys

    import rclpy
    from rclpy.executors import ExternalShutdownException

    rclpy.init(args=args)
    node = None
    try:
        node = make_node()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ValueError as error:  # settings refused at start: the reason, no traceback
        print(f"refusing to start: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception:
        if rclpy.ok():
            raise
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
