"""Damaged MCAP bags, made by cutting or changing a real converted bag: whatever can be trusted
is recovered, nothing changed is scored, and the report says what was lost.

Where each frame lies in the file is found by searching for its own serialised bytes, so the
expected answers do not come from the code under test.
"""

from __future__ import annotations

import json
import shutil
import struct
import zlib

import numpy as np
import pytest
from rosbags.rosbag2 import CompressionFormat, CompressionMode, Reader, StoragePlugin, Writer
from rosbags.rosbag2.errors import ReaderError

from nermo_ros.bag import convert, evaluate, io
from nermo_ros.bag import types as T
from nermo_ros.bag.messages import skeleton_array
from nermo_ros.bag.report import write_outputs
from nermo_ros.cli import main as cli_main
from nermo_ros.data.pybullet_clips import load_clip

TOPIC = convert.DEFAULT_TOPIC
MESSAGE_OVERHEAD_BYTES = 9 + 22  # MCAP record head + message head before the payload
CHUNK_OVERHEAD_BYTES = 9 + 40  # MCAP record head + uncompressed chunk head before its records


@pytest.fixture(scope="module")
def frames():
    return convert.clip_frames(load_clip("humanoid3d_walk.txt", cycles=20))


@pytest.fixture(scope="module")
def intact(tmp_path_factory, frames):
    path = tmp_path_factory.mktemp("intact") / "walk"
    convert.write_skeleton_bag(path, frames)
    return path


@pytest.fixture
def bag(tmp_path, intact):
    """A fresh copy of the intact bag, and its data file to damage."""
    copy = shutil.copytree(intact, tmp_path / "walk")
    return copy, copy / "walk.mcap"


def payload_spans(blob: bytes, frames) -> list[tuple[int, int]]:
    """(start, end) in the file of each frame's serialised message, in frame order."""
    spans = []
    for frame in frames:
        data = T.typestore().serialize_cdr(skeleton_array(frame), T.SKELETON_ARRAY)
        start = blob.find(data)
        assert start > 0 and blob.find(data, start + 1) == -1
        spans.append((start, start + len(data)))
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    return spans


def chunk_starts(spans) -> list[int]:
    """Indices of the frames that open a chunk: more than a message head precedes them."""
    return [0] + [k for k in range(1, len(spans))
                  if spans[k][0] - spans[k - 1][1] > MESSAGE_OVERHEAD_BYTES]


def stamps(frames) -> list[int]:
    return [f.stamp_ns for f in frames]


def top_level_records(blob: bytes):
    """(opcode, position, content) of each record, by the MCAP spec's framing."""
    pos = 8
    while pos < len(blob) - 8:
        opcode, (size,) = blob[pos], struct.unpack_from("<Q", blob, pos + 1)
        yield opcode, pos, blob[pos + 9:pos + 9 + size]
        pos += 9 + size


def write_plain(writer: Writer, frames) -> None:
    """Frames through the rosbags writer alone, as other tools and older bags write them."""
    with writer:
        conn = writer.add_connection(TOPIC, T.SKELETON_ARRAY, typestore=T.typestore())
        for frame in frames:
            writer.write(conn, frame.log_ns, T.typestore().serialize_cdr(
                skeleton_array(frame), T.SKELETON_ARRAY))


def test_a_written_bag_carries_chunk_data_and_summary_crcs_that_verify(bag):
    _, data_file = bag
    blob = data_file.read_bytes()
    records = list(top_level_records(blob))
    chunks = [content for opcode, _, content in records if opcode == 0x06]
    assert len(chunks) == 5  # 64 KiB chunks: a damaged byte costs one of them, not the bag
    for content in chunks:
        (crc,) = struct.unpack_from("<I", content, 24)
        assert crc != 0 and crc == zlib.crc32(content[40:])  # uncompressed records
    ((data_end_at, data_end),) = [(p, c) for o, p, c in records if o == 0x0F]
    assert struct.unpack("<I", data_end)[0] == zlib.crc32(blob[:data_end_at]) != 0
    summary_start, _, summary_crc = struct.unpack_from("<QQI", blob, len(blob) - 8 - 20)
    assert summary_crc == zlib.crc32(blob[summary_start:len(blob) - 8 - 4]) != 0


def test_a_flipped_byte_inside_a_chunk_is_caught_by_its_crc_and_its_frames_are_left_out(
        bag, frames):
    path, data_file = bag
    blob = bytearray(data_file.read_bytes())
    spans = payload_spans(bytes(blob), frames)
    first, after = chunk_starts(spans)[2:4]  # the third chunk holds frames first..after-1
    blob[spans[first + 5][1] - 7] ^= 0x10  # one bit of a joint coordinate
    data_file.write_bytes(bytes(blob))
    with pytest.raises(ReaderError, match="checksum"), Reader(path) as reader:
        list(reader.messages())  # another MCAP reader rejects the chunk too
    back, report = io.read_skeleton_frames(path)
    assert stamps(back) == stamps(frames[:first] + frames[after:])
    kept = frames[:first] + frames[after:]
    for got, want in zip(back, kept):
        np.testing.assert_array_equal(got.people[0].positions, want.people[0].positions)
    assert report.mcap.chunks_crc_mismatch == 1 and report.mcap.chunks_verified == 4
    assert report.mcap.messages_dropped == after - first
    assert report.messages_missing == after - first
    assert any("its CRC does not match" in line for line in report.lines())


@pytest.mark.parametrize("where", ["after a whole message", "inside a payload",
                                   "inside a message head", "inside a chunk head",
                                   "in the summary"])
def test_a_bag_cut_short_lists_its_topics_and_keeps_every_whole_message(bag, frames, where):
    path, data_file = bag
    blob = data_file.read_bytes()
    spans = payload_spans(blob, frames)
    k = chunk_starts(spans)[3]  # the first frame of the fourth chunk
    cut_at, whole = {
        "after a whole message": (spans[k + 9][1], k + 10),
        "inside a payload": (spans[k + 9][0] + 100, k + 9),
        "inside a message head": (spans[k + 9][0] - 10, k + 9),
        "inside a chunk head": (spans[k][0] - MESSAGE_OVERHEAD_BYTES - 20, k),
        "in the summary": (len(blob) - 100, len(frames)),
    }[where]
    data_file.write_bytes(blob[:cut_at])
    assert io.bag_topics(path) == {TOPIC: T.SKELETON_ARRAY}
    back, report = io.read_skeleton_frames(path)
    assert stamps(back) == stamps(frames[:whole])
    assert report.salvaged and report.mcap.files_cut_short == 1
    assert report.messages_missing == len(frames) - whole
    assert "cut short" in report.damaged


def test_the_messages_of_a_cut_chunk_are_kept_but_counted_as_unverified(bag, frames):
    path, data_file = bag
    blob = data_file.read_bytes()
    spans = payload_spans(blob, frames)
    k = chunk_starts(spans)[3]
    data_file.write_bytes(blob[:spans[k + 9][0] + 100])
    back, report = io.read_skeleton_frames(path)
    assert len(back) == k + 9
    assert report.mcap.chunks_cut == 1 and report.mcap.chunks_verified == 3
    assert report.mcap.messages_unverified == 9
    assert report.mcap.bytes_lost == 100 + MESSAGE_OVERHEAD_BYTES


def test_a_damaged_chunk_record_head_is_skipped_to_the_next_indexed_chunk(bag, frames):
    path, data_file = bag
    blob = bytearray(data_file.read_bytes())
    spans = payload_spans(bytes(blob), frames)
    first, after = chunk_starts(spans)[1:3]
    chunk_at = spans[first][0] - MESSAGE_OVERHEAD_BYTES - CHUNK_OVERHEAD_BYTES
    assert blob[chunk_at] == 0x06
    blob[chunk_at + 1:chunk_at + 9] = b"\xff" * 8  # its length now runs past the file
    data_file.write_bytes(bytes(blob))
    back, report = io.read_skeleton_frames(path)
    assert stamps(back) == stamps(frames[:first] + frames[after:])
    assert report.mcap.bytes_lost > 0 and report.mcap.data_crc_mismatch == 1


def test_a_cut_zstd_chunk_keeps_the_messages_of_its_whole_blocks(tmp_path, frames):
    writer = Writer(tmp_path / "zstd", version=9, storage_plugin=StoragePlugin.MCAP)
    writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
    write_plain(writer, frames)
    (data_file,) = (tmp_path / "zstd").glob("*.mcap")
    data_file.write_bytes(data_file.read_bytes()[:40_000])  # inside its one chunk
    back, report = io.read_skeleton_frames(tmp_path / "zstd")
    assert 0 < len(back) < len(frames) and stamps(back) == stamps(frames[:len(back)])
    assert report.mcap.chunks_cut == 1 and report.mcap.messages_unverified == len(back)


def test_a_bag_without_crcs_reads_normally_and_says_its_chunks_cannot_be_checked(tmp_path,
                                                                                 frames):
    write_plain(Writer(tmp_path / "plain", version=9, storage_plugin=StoragePlugin.MCAP), frames)
    back, report = io.read_skeleton_frames(tmp_path / "plain")
    assert stamps(back) == stamps(frames) and not report.salvaged and not report.damaged
    assert report.mcap.chunks_without_crc == 1
    assert report.lines()[1:] == ["1 chunks carry no CRC, so damage inside them cannot be "
                                  "detected"]


def test_bag_evaluate_of_a_bag_with_a_flipped_byte_says_so_in_its_json(tmp_path, bag, frames):
    path, data_file = bag
    blob = bytearray(data_file.read_bytes())
    spans = payload_spans(bytes(blob), frames)
    first, after = chunk_starts(spans)[2:4]
    blob[spans[first + 5][1] - 7] ^= 0x10
    data_file.write_bytes(bytes(blob))
    assert cli_main(["bag", "evaluate", str(path), "--predictor", "constant_velocity",
                     "--out", str(tmp_path / "eval")]) == 0
    result = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert result["skeletons_in"] == len(frames) - (after - first)
    assert any(f"its {after - first} messages on {TOPIC} are left out" in note
               for note in result["notes"])


def test_the_evaluation_json_reports_what_was_recovered_and_what_was_lost(tmp_path, bag,
                                                                          frames):
    path, data_file = bag
    blob = data_file.read_bytes()
    spans = payload_spans(blob, frames)
    k = chunk_starts(spans)[3]
    data_file.write_bytes(blob[:spans[k + 9][0] + 100])
    evaluation, _ = evaluate.evaluate_offline(evaluate.load_input(
        path, overrides={"predictor": "constant_velocity"}))
    write_outputs(evaluation, tmp_path / "eval")
    health = json.loads((tmp_path / "eval" / "evaluation.json").read_text())["bag_health"]
    assert health["read_by"] == "record walk (salvage)" and health["damaged"]
    assert health["messages_read"] == health["messages_recovered_by_salvage"] == k + 9
    assert health["messages_expected"] == len(frames)
    assert health["messages_missing"] == len(frames) - k - 9
    assert health["mcap"]["chunks_cut"] == 1 and health["mcap"]["messages_unverified"] == 9
    assert health["mcap"]["bytes_lost"] == 100 + MESSAGE_OVERHEAD_BYTES
    assert health["mcap"]["bytes_missing"] > 0
    assert any("cut short" in note for note in health["notes"])


def test_a_damaged_sqlite_bag_fails_with_a_message_not_a_traceback(tmp_path, frames, capsys):
    convert.write_skeleton_bag(tmp_path / "db", frames, storage="sqlite3")
    (db,) = (tmp_path / "db").glob("*.db3")
    db.write_bytes(db.read_bytes()[:db.stat().st_size // 2])
    with pytest.raises(ValueError, match="SQLite file is damaged or was cut short"):
        io.read_skeleton_frames(tmp_path / "db")
    assert cli_main(["bag", "evaluate", str(tmp_path / "db"), "--out",
                     str(tmp_path / "eval")]) == 2
    err = capsys.readouterr().err
    assert "cannot open the bag" in err and "Traceback" not in err
