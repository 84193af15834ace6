"""Camera models, calibration boards, intrinsics, multi-camera extrinsics with bundle
adjustment, and triangulation. numpy/OpenCV/SciPy only; imports neither train nor stream."""
