import pickletools

from train.data.analysis_meta import meta_path, write_analysis_meta

# opcodes that import or call something when unpickled
CODE = {"GLOBAL", "STACK_GLOBAL", "REDUCE", "BUILD", "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX"}


def test_meta_pickle_holds_plain_values_only(tmp_path):
    table = tmp_path / "mouseDLC_Resnet50_mNov2shuffle1_snapshot_best-5.h5"
    path = write_analysis_meta(table, "DLC_x", ("nose", "tail"), 40, 30.0, (160, 128),
                               times=(1.0, 3.5))
    assert path == meta_path(table)
    assert path.name == "mouseDLC_Resnet50_mNov2shuffle1_snapshot_best-5_meta.pickle"
    ops = {op.name for op, _, _ in pickletools.genops(path.read_bytes())}
    assert not ops & CODE
    # the values DeepLabCut's create_labeled_video reads, found without unpickling
    text = path.read_bytes()
    for key in (b"cropping_parameters", b"frame_dimensions", b"nframes", b"DLC_x"):
        assert key in text
