"""The offline workflow: projects, labels, frames, training, evaluation and export.

Importing the data model (:mod:`train.keypoints`, :mod:`train.tables`,
:mod:`train.config`, :mod:`train.project`) loads neither torch nor zmq.
"""
