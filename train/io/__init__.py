"""Other tools' file formats, one module per format (:mod:`train.io.nwb`, ...), and
:mod:`train.io.convert`, which picks the module from a file's suffix."""
