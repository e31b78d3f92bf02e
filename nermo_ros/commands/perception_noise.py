"""Measure MediaPipe's skeleton noise on the packaged real videos and write the noise model.

`python -m nermo_ros.commands.perception_noise [--out config/perception_noise.yaml]` runs the
perception node's pipeline (``perception.benchmark.perceive_video``, the node's PoseConfig)
over every frame of each video, measures jitter, bone-length drift, dropped joints and the
depth proxies (``evaluation.noise_measurement``), prints them, and writes one
``PerceptionNoise`` with the date, the videos and the figures it came from. The frame rates
and the stamp jitter are not measurable from a video file (its frame times are exact): they
are the camera timings to test, given here.
"""

from __future__ import annotations

import argparse
import sys

DEFAULT_OUT = "config/perception_noise.yaml"
DEFAULT_RATES_HZ = (10.0, 15.0, 25.0, 30.0)
# Stamps taken on arrival by a USB camera driver stray by a few milliseconds; assumed, since a
# video file's frame times are exact.
DEFAULT_TIMESTAMP_JITTER_S = 0.005


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--videos", default="single,several",
                        help="comma list of packaged videos (single, several) or video files")
    parser.add_argument("--out", default=DEFAULT_OUT, help="the noise model YAML to write")
    parser.add_argument("--window-s", type=float, default=None,
                        help="span of the smoother that separates jitter from motion "
                             "(default noise_measurement.DEFAULT_WINDOW_S)")
    parser.add_argument("--frame-rates-hz", type=float, nargs="+",
                        default=list(DEFAULT_RATES_HZ), help="camera rates to evaluate at")
    parser.add_argument("--timestamp-jitter-s", type=float, default=DEFAULT_TIMESTAMP_JITTER_S,
                        help="1-sigma stamp jitter (assumed, not measured)")
    parser.add_argument("--max-frames", type=int, default=None, help="per video (default: all)")


def run(args: argparse.Namespace) -> int:
    from nermo_ros.evaluation import noise_measurement as nm
    from nermo_ros.evaluation.perception_noise import save_noise, today
    from nermo_ros.perception.benchmark import perceive_video
    from nermo_ros.perception.media import VIDEOS, video_path

    window_s = args.window_s or nm.DEFAULT_WINDOW_S
    figures, used = [], []
    try:
        for name in filter(None, args.videos.split(",")):
            path = video_path(name)
            perceived = perceive_video(path, max_frames=args.max_frames)
            tracks = nm.tracks_from_frames(perceived.stamps_s,
                                           [r.people for r in perceived.results])
            if not tracks:
                raise ValueError(f"nobody was tracked for long enough in {path}")
            video = nm.measure_video(tracks, window_s)
            label = (f"{VIDEOS[name].distribution}: {VIDEOS[name].relative_path}"
                     if name in VIDEOS else str(path))
            figures.append(video)
            used.append({"video": label, "frames": len(perceived.results),
                         "frame_rate_hz": video["frame_rate_hz"], "tracks": video["tracks"],
                         "identity_jumps": perceived.counts.identity_jumps})
            print(video_text(label, video))
    except (ValueError, FileNotFoundError) as error:
        print(f"perception_noise: {error}", file=sys.stderr)
        return 2
    provenance = {"measured_on": today(), "videos": used,
                  "method": {"smoother": f"local quadratic over {window_s} s",
                             "jitter": "AR(1) fitted to the smoother's residuals within "
                                       f"{nm.GLITCH_SIGMAS} robust sigma; beyond: glitches",
                             "timestamp_jitter_s": "assumed, not measured"},
                  "figures": [summary(v) for v in figures]}
    noise = nm.combine(figures, args.frame_rates_hz, args.timestamp_jitter_s, provenance)
    header = ("MediaPipe PoseLandmarker's skeleton noise on real video, measured by\n"
              "`python -m nermo_ros.commands.perception_noise`; see docs/model.md, "
              "'Perception noise'.\nAxes: depth (along the camera axis), lateral, vertical. "
              "Frame rates and stamp jitter are\ncamera timings to test, not measured.")
    save_noise(args.out, noise, header)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def summary(video: dict) -> dict:
    """The figures of one video, rounded, for the YAML's provenance."""
    from nermo_ros import skeleton

    jitter, bones, drops = video["jitter"], video["bones"], video["drops"]
    rms = lambda a: round(float((a ** 2).mean() ** 0.5), 5)  # noqa: E731
    bone_names = [skeleton.JOINT_NAMES[c] for _, c in skeleton.BONES]
    return {
        "frame_rate_hz": video["frame_rate_hz"], "tracks": video["tracks"],
        "jitter_rms_m_by_axis": dict(zip(("depth", "lateral", "vertical"),
                                         [rms(jitter["std_m"][:, k]) for k in range(3)])),
        "jitter_time_s": round(jitter["time_s"], 4),
        "glitch_share_mean": round(float(jitter["glitch_share"].mean()), 4),
        "glitch_rms_m_by_axis": dict(zip(("depth", "lateral", "vertical"),
                                         [rms(jitter["glitch_std_m"][:, k]) for k in range(3)])),
        "swap_share": round(video["swaps"]["share"], 4),
        "swap_run_s": round(video["swaps"]["run_s"], 3),
        "bone_length_std_raw": dict(zip(bone_names, _rounded(bones["raw_std"]))),
        "bone_length_std_smoothed": dict(zip(bone_names, _rounded(bones["drift_std"]))),
        "depth_scale_from_bones": round(bones["depth_scale"], 3),
        "left_right_asymmetry": {k: round(v, 4) for k, v in bones["asymmetry"].items()},
        "joint_drop_share": dict(zip(skeleton.JOINT_NAMES, _rounded(drops["joint_share"]))),
        "joint_drop_run_s": round(drops["joint_run_s"], 3),
        "body_drop_share": round(float(drops["body_share"]), 4),
    }


def _rounded(values) -> list[float]:
    return [round(float(v), 4) for v in values]


def video_text(label: str, video: dict) -> str:
    """Markdown: per joint jitter (mm, three axes), drop share; per bone drift; depth proxies."""
    from nermo_ros import skeleton

    jitter, bones, drops, swaps = video["jitter"], video["bones"], video["drops"], video["swaps"]
    lines = [f"### {label}: {video['frame_rate_hz']} Hz, {video['tracks']} track(s), "
             f"{drops['frames']} person-frames",
             "", f"jitter correlation time {jitter['time_s'] * 1e3:.0f} ms (lag-1 "
             f"{jitter['rho']:.2f}), smoother {jitter['points']} frames; glitch runs last "
             f"{jitter['glitch_run_s']:.2f} s; left/right swapped in {swaps['share']:.1%} of "
             f"frames (runs of {swaps['run_s']:.2f} s); depth scale from bones "
             f"{bones['depth_scale']:.2f}; joint drops last {drops['joint_run_s']:.2f} s; body "
             f"missed in {drops['body_share']:.1%} of frames", "",
             "| joint | jitter depth mm | lateral mm | vertical mm | glitches | glitch size mm "
             "(d, l, v) | dropped |", "|---|---:|---:|---:|---:|---|---:|"]
    for j, name in enumerate(skeleton.JOINT_NAMES):
        d, lat, v = jitter["std_m"][j] * 1e3
        size = ", ".join(f"{g:.0f}" for g in jitter["glitch_std_m"][j] * 1e3)
        lines.append(f"| {name} | {d:.1f} | {lat:.1f} | {v:.1f} | "
                     f"{jitter['glitch_share'][j]:.1%} | {size} | {drops['joint_share'][j]:.1%} |")
    lines += ["", "| bone (to) | length std raw | smoothed (drift) |", "|---|---:|---:|"]
    for k, (_, child) in enumerate(skeleton.BONES):
        lines.append(f"| {skeleton.JOINT_NAMES[child]} | {bones['raw_std'][k]:.1%} | "
                     f"{bones['drift_std'][k]:.1%} |")
    lines += ["", "left/right asymmetry (median |L - R| / mean): " + ", ".join(
        f"{k} {v:.1%}" for k, v in bones["asymmetry"].items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nermo_ros.commands.perception_noise",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
