"""LabelSession without a window: what gets saved, and what is kept."""

import numpy as np
import pandas as pd

from train.data import tables
from train.data.keypoints import LabeledFrames
from train.label.extract import extract_frames
from train.label.session import LabelSession


def test_tuple_index_table_round_trips_and_keeps_rows_without_images(tiny_project):
    extract_frames(tiny_project.root, "uniform")
    pngs = sorted((tiny_project.labeled_data / "scenes").glob("*.png"))
    images = [f"labeled-data/scenes/{p.name}" for p in pngs[:2]] + ["labeled-data/scenes/gone.png"]
    xy = np.arange(18, dtype=float).reshape(3, 3, 2) + 0.125
    xy[1, 2] = np.nan
    path = tiny_project.labels_path("scenes")
    tables.write_labels(LabeledFrames("alice", ("nose", "ear", "tail"), images, xy, "tuple"), path)
    before = tables._read_frame(path)
    session = LabelSession.for_labeling(tiny_project)
    assert session.images[:2] == images[:2] and len(session) == len(pngs)  # gone.png not shown
    session.save()
    pd.testing.assert_frame_equal(tables._read_frame(path), before, check_exact=True)
    # a label on a new frame is appended; every old row stays as it was
    session.set_point(4, 0, (1.5, 2.5))
    session.save()
    after = tables.read_labels(path)
    assert after.index_style == "tuple" and after.images == images + [session.images[4]]
    np.testing.assert_array_equal(after.xy[:3], xy)
    np.testing.assert_array_equal(after.xy[3], [[1.5, 2.5], [np.nan] * 2, [np.nan] * 2])


def test_unlabeled_frames_are_not_written(tiny_project):
    extract_frames(tiny_project.root, "uniform")
    session = LabelSession.for_labeling(tiny_project)
    assert session.save() == [] and not tiny_project.labels_path("scenes").exists()
    session.set_point(2, 1, (3.0, 4.0))
    session.set_point(2, 1, None)  # deleted again: the frame holds nothing
    session.set_point(3, 2, (5.0, 6.0))
    session.save()
    saved = tables.read_labels(tiny_project.labels_path("scenes"))
    assert saved.images == [session.images[3]]
