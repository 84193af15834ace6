"""The data model and the files it lives in: project config, labels and analysis tables,
keypoint arrays, videos. Importing it loads neither torch nor zmq."""
