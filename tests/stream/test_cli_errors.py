"""Every command, given a bad input, fails with one line naming what is wrong and never a
traceback: a wrong path at once, when the arguments are parsed (exit status 1, before
any model or decoder exists); a bad file, field or option value from the Python function
the command calls (exit status 1); a malformed option value as a usage error (status 2)."""

import subprocess
import sys

import pytest

from stream.cli import available_commands, main
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    """A folder with an empty project, an empty folder and files that are not what their
    names say."""
    from train.data.project import create_project

    root = tmp_path_factory.mktemp("bad")
    paths = {"project": create_project("empty", [], ["a", "b"], working_directory=root).root,
             "empty": root / "empty", "missing": root / "missing", "rig": root / "rig.toml"}
    paths["empty"].mkdir()
    paths["rig"].write_text("[cam_0\n")
    for name in ("video.mp4", "model.pt2", "table.h5"):
        paths[name.split(".")[0]] = root / name
        (root / name).write_bytes(b"not what the name says")
    return {name: str(path) for name, path in paths.items()}


# command: (arguments, exit status, what the message names); {name} is a path from `bad`
CASES = {
    "add-videos": (["{project}", "{video}"], 1, "video.mp4"),
    "analyze": (["{model}", "{video}"], 1, "model.pt2"),
    "board": (["{missing}", "--marker-length", "50"], 1, "marker_length"),
    "calibrate": (["{empty}"], 1, "empty"),
    "check-labels": (["{missing}"], 1, "missing"),
    "convert": (["{table}", "{empty}/out.nwb"], 1, "table.h5"),
    "demo": (["{video}"], 1, "video.mp4"),
    "evaluate": (["{project}"], 1, "no snapshot"),
    "experiment": (["{empty}/exp", "--rig", "{rig}", "--model", "{model}"], 1, "rig.toml"),
    "export": (["{project}"], 1, "pytorch_config.yaml"),
    "export-labels": (["{project}", "{empty}/labels.slp"], 1, "CollectedData"),
    "extract": (["{project}"], 1, "config.yaml"),
    "filter": (["{table}"], 1, "table.h5"),
    "import-labels": (["{table}", "--workdir", "{empty}"], 1, "table.h5"),
    "import-model": (["{model}", "--out", "{empty}/m.pt2"], 1, "model.pt2"),
    "label": (["{missing}"], 1, "missing"),
    "labeled-video": (["{video}", "{table}"], 1, "table.h5"),
    "merge": (["{project}"], 1, "machinelabels-iter0.h5"),
    "new": (["x", "--bodyparts", "a,a", "--workdir", "{empty}"], 1, "bodyparts"),
    "outliers": (["{project}", "{video}", "--table", "{table}"], 1, "table.h5"),
    "refine": (["{project}", "--videos", "nosuch"], 1, "nosuch"),
    "run": (["{rig}"], 1, "rig.toml"),
    "synth": (["{empty}", "--size", "big"], 2, "big"),
    "track": (["{table}"], 1, "table.h5"),
    "train": (["{missing}"], 1, "missing"),
    "triangulate": (["{rig}", "{table}", "{table}"], 1, "rig.toml"),
    "undistort-check": (["{rig}", "{empty}"], 1, "rig.toml"),
    "view": (["{rig}"], 1, "rig.toml"),
}


def test_every_command_has_a_bad_input_case():
    assert sorted(CASES) == sorted(available_commands())


@pytest.mark.parametrize("command", sorted(CASES))
def test_bad_input_is_one_line_naming_it(command, bad, capsys):
    args, status, named = CASES[command]
    argv = [command, *(a.format(**bad) for a in args)]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors leave main this way
        code = exc.code
    err = capsys.readouterr().err
    assert code == status, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if f"poseloop {command}: error:" in line]
    assert len(errors) == 1 and named in errors[0], err


def test_the_installed_command_prints_one_line(bad):
    """The same through the real entry point, in its own process: stderr is the one line."""
    out = subprocess.run([sys.executable, "-m", "stream.cli", "run", bad["missing"]], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        f"poseloop run: error: argument rig: {bad['missing']}: no such file"]
