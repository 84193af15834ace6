"""The offline workflow: projects, labels, frames, training, evaluation and export.

Importing the data model (:mod:`train.data.keypoints`, :mod:`train.data.tables`,
:mod:`train.data.config`, :mod:`train.data.project`) loads neither torch nor zmq.
"""
