"""Video files end to end: a real face moving through a clip made with PyAV, the annotated MP4, the CSV and JSON,
rotation, audio and frame rate kept, and every hostile file refused with one message and nothing left behind."""

import csv
import io
import json
import os

import av
import numpy as np
import pytest

from fer_core.cli import main
from fer_core.labels import EMOTIONS
from fer_core.media.export import VIDEO_COLUMNS, video_csv, video_json
from fer_core.media.video import Progress, VideoError, VideoLimits, VideoSettings, analyze_video, probe
from tests.video_clips import face_clip, hostile_videos


def decoded(path) -> tuple[list[av.VideoFrame], av.container.InputContainer]:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
        return frames, container


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "walk.mp4"
    count = face_clip(path, 640, 480, fps=30, seconds=2.0, audio=True)
    return path, count


@pytest.fixture(scope="module")
def analysed(clip, pipeline, tmp_path_factory):
    path, _ = clip
    out = tmp_path_factory.mktemp("out") / "walk_emotions.mp4"
    reports = []
    analysis = analyze_video(pipeline, path, out, on_progress=reports.append, progress_every_s=0)
    return analysis, out, reports


def test_a_moving_face_keeps_one_id_and_its_label(clip, analysed):
    _, count = clip
    analysis, _, _ = analysed
    assert analysis.frames == count
    assert analysis.face_ids() == [1], "one face, one id, all the way across"
    xs = [row.box[0] for row in analysis.rows if row.analyzed]
    assert xs[-1] - xs[0] > 100, "the box followed the face across the frame"
    assert len(analysis.rows) >= count - 2 * analysis.every, "the face is on every frame once confirmed"
    summary = analysis.summaries()[0]
    assert summary.seconds_on_screen == pytest.approx(2.0, abs=0.2)
    if not os.environ.get("FER_MODEL"):  # the stand-in model of a smoke run gives near-random labels
        assert summary.dominant == "happy" and summary.shares["happy"] > 0.9


def test_the_model_runs_on_every_kth_frame_and_the_rows_say_which(analysed):
    analysis, _, _ = analysed
    assert analysis.every == 5  # 30 fps at the default 6 analyses per second
    assert analysis.analyzed_frames == list(range(0, analysis.frames, 5))
    marked = sorted({row.frame for row in analysis.rows if row.analyzed})
    assert set(marked) <= set(analysis.analyzed_frames) and len(marked) >= len(analysis.analyzed_frames) - 1
    assert all(not row.analyzed for row in analysis.rows if row.frame % 5)


def test_the_annotated_mp4_has_every_frame_the_audio_and_the_frame_rate(clip, analysed):
    path, count = clip
    analysis, out, _ = analysed
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "h264" and video.codec_context.pix_fmt == "yuv420p"
        assert float(video.average_rate) == pytest.approx(30, rel=0.01)
        assert [s.codec_context.name for s in container.streams.audio] == ["aac"]
        frames = [frame.to_ndarray(format="bgr24") for frame in container.decode(video=0)]
    assert len(frames) == count
    with av.open(str(path)) as container:
        last = list(container.decode(video=0))[-1].to_ndarray(format="bgr24")
    assert frames[-1].shape == last.shape
    assert np.abs(frames[-1].astype(int) - last).max() > 100, "the box and label are drawn"
    assert analysis.audio_kept


def test_progress_counts_frames_up_to_the_total(clip, analysed):
    _, count = clip
    _, _, reports = analysed
    assert all(isinstance(r, Progress) for r in reports)
    done = [r.frames_done for r in reports]
    assert done == sorted(done) and done[-1] == count and reports[-1].frames_total == count
    assert reports[-1].seconds_left == 0


def test_csv_and_json_hold_a_row_per_face_per_frame(analysed):
    analysis, _, _ = analysed
    rows = list(csv.DictReader(io.StringIO(video_csv(analysis))))
    assert tuple(rows[0]) == VIDEO_COLUMNS
    for column in ("time_s", "frame", "face_id", "x", "y", "width", "height", "label", "confidence", *EMOTIONS):
        assert column in VIDEO_COLUMNS
    assert len(rows) == len(analysis.rows)
    first = rows[0]
    # the face is listed from its second analysis on (frame 5), when it is confirmed
    assert first["frame"] == "5" and first["face_id"] == "1" and first["analyzed"] == "1"
    assert sum(float(first[name]) for name in EMOTIONS) == pytest.approx(1, abs=1e-3)
    assert first["label"] == max(EMOTIONS, key=lambda name: float(first[name]))
    document = json.loads(video_json(analysis))
    assert len(document["rows"]) == len(rows) and set(document["rows"][0]) == set(VIDEO_COLUMNS)
    assert document["faces"][0]["face_id"] == 1 and document["video"]["width"] == 640


def test_a_phone_clips_rotation_is_applied_and_variable_frame_rate_kept(pipeline, tmp_path):
    # portrait phone clip: stored 240x320 with a 90-degree display matrix; frames bunched then spread out
    times = [i / 30 for i in range(20)] + [20 / 30 + i / 10 for i in range(10)]
    source = tmp_path / "phone.mov"
    face_clip(source, 640, 480, rotation=90, timestamps=times, container_format="mov")
    info = probe(source)
    assert (info.width, info.height, info.rotation) == (640, 480, 90)

    out = tmp_path / "phone_emotions.mp4"
    analysis = analyze_video(pipeline, source, out, VideoSettings(analyses_per_second=0))
    assert analysis.face_ids() == [1], "the face is found once the frame is upright"
    with av.open(str(out)) as container:
        frames = list(container.decode(video=0))
    assert (frames[0].width, frames[0].height) == (640, 480) and frames[0].rotation == 0
    assert [round(float(f.time), 2) for f in frames] == [round(t, 2) for t in times]


def test_writing_to_memory_leaves_no_file(pipeline, clip):
    path, count = clip
    buffer = io.BytesIO()
    with open(path, "rb") as source:
        analysis = analyze_video(pipeline, source, buffer)
    assert analysis.frames == count
    with av.open(io.BytesIO(buffer.getvalue())) as container:
        assert sum(1 for _ in container.decode(video=0)) == count


@pytest.mark.parametrize("container_format", ["matroska", "mpegts"])
def test_a_clip_cut_short_keeps_the_frames_before_the_cut(container_format, pipeline):
    whole = io.BytesIO()
    count = face_clip(whole, 320, 240, fps=10, seconds=3.0, container_format=container_format)
    data = whole.getvalue()
    cut, out = io.BytesIO(data[: len(data) * 6 // 10]), io.BytesIO()  # as an interrupted recording leaves it
    analysis = analyze_video(pipeline, cut, out)
    assert 0 < analysis.frames < count
    with av.open(io.BytesIO(out.getvalue())) as container:
        assert sum(1 for _ in container.decode(video=0)) == analysis.frames


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return hostile_videos(tmp_path_factory.mktemp("hostile"))


HOSTILE = ["empty", "text renamed .mp4", "truncated mp4", "audio only", "zero frames", "8K dimensions"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_videos_get_one_message_and_leave_nothing(name, hostile, pipeline, tmp_path):
    path, message = hostile[name]
    out = tmp_path / "out.mp4"
    with pytest.raises(VideoError, match=message):
        analyze_video(pipeline, path, out)
    assert list(tmp_path.iterdir()) == [], "no partial output is left"


@pytest.mark.parametrize("name", HOSTILE)
def test_the_command_line_refuses_hostile_videos_with_one_line(name, hostile, tmp_path, capsys):
    path, message = hostile[name]
    assert main(["video", str(path), "--out", str(tmp_path / "out.mp4"), "--csv", str(tmp_path / "o.csv")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert list(tmp_path.iterdir()) == []


def test_limits_refuse_long_and_large_files(clip, pipeline, tmp_path):
    path, _ = clip
    with pytest.raises(VideoError, match="minutes long; at most 0.01 minutes"):
        analyze_video(pipeline, path, tmp_path / "o.mp4", limits=VideoLimits(max_minutes=0.01))
    with pytest.raises(VideoError, match="at most 0 MB"):
        probe(path, VideoLimits(max_megabytes=0))
    assert list(tmp_path.iterdir()) == []


def test_cancelling_from_the_progress_callback_discards_the_output(clip, pipeline, tmp_path):
    path, _ = clip

    class Cancelled(Exception):
        pass

    def cancel_at_ten(progress: Progress) -> None:
        if progress.frames_done >= 10:
            raise Cancelled

    with pytest.raises(Cancelled):
        analyze_video(pipeline, path, tmp_path / "o.mp4", on_progress=cancel_at_ten, progress_every_s=0)
    assert list(tmp_path.iterdir()) == []


def test_command_line_writes_the_video_and_csv(clip, tmp_path, capsys):
    path, count = clip
    out, table = tmp_path / "o.mp4", tmp_path / "o.csv"
    assert main(["video", str(path), "--out", str(out), "--csv", str(table), "--json"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["frames"] == count and document["faces"][0]["face_id"] == 1
    assert f"{count}/{count} frames" in captured.err, "a progress bar on stderr"
    assert table.read_text().splitlines()[0] == ",".join(VIDEO_COLUMNS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.csv", "o.mp4"]
