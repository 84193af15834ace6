import pytest

from calib.errors import VideoError
from stream.scale.videos import find_videos


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_folder_is_searched_recursively_by_suffix(tmp_path):
    a = _touch(tmp_path / "day1" / "a.mp4")
    b = _touch(tmp_path / "day2" / "deep" / "B.AVI")
    _touch(tmp_path / "day1" / "notes.txt")
    _touch(tmp_path / ".poseloop-parts" / "x" / "c.mp4")  # hidden folders are not input
    _touch(tmp_path / "day1" / ".hidden" / "d.mp4")
    assert find_videos([tmp_path]) == [a.resolve(), b.resolve()]


def test_lists_relative_to_their_folder_with_comments_and_duplicates(tmp_path):
    a = _touch(tmp_path / "v" / "a.mp4")
    b = _touch(tmp_path / "v" / "b.mov")
    listing = tmp_path / "lists" / "todo.txt"
    listing.parent.mkdir()
    listing.write_text(f"# my videos\n\n../v/b.mov\n{a}\n../v/b.mov\n")
    table = tmp_path / "todo.csv"
    table.write_text("animal,Video\nm1,v/a.mp4\nm2,v/b.mov\n")
    assert find_videos([listing]) == [b.resolve(), a.resolve()]
    assert find_videos([table, a]) == [a.resolve(), b.resolve()]


def test_errors_name_the_input_and_the_list_line(tmp_path):
    listing = tmp_path / "l.txt"
    listing.write_text("a.mp4\n")
    with pytest.raises(VideoError, match=r"l\.txt:1: .*a\.mp4: no such video"):
        find_videos([listing])
    with pytest.raises(VideoError, match="missing.mp4: no such video"):
        find_videos([tmp_path / "missing.mp4"])
    with pytest.raises(VideoError, match="notes.doc: not a video"):
        find_videos([_touch(tmp_path / "notes.doc")])
    with pytest.raises(VideoError, match="no videos in this folder"):
        find_videos([_touch(tmp_path / "empty" / "x.txt").parent])
    bad_csv = tmp_path / "l.csv"
    bad_csv.write_text("name\nx\n")
    with pytest.raises(VideoError, match="no column named video"):
        find_videos([bad_csv])
