"""Analysis at scale: many videos, on one machine or a Ray cluster, resumable.

- :mod:`stream.scale.videos`: the videos of folders, list files and paths;
- :mod:`stream.scale.ledger`: which table each video gets, when a table counts as
  complete (its stamp), and writing one only when it is;
- :mod:`stream.scale.parts`: long videos as frame ranges, one part file per range,
  joined in order;
- :mod:`stream.scale.worker`: one frame range analyzed in one process;
- :mod:`stream.scale.cluster`: Ray workers (one per GPU or per few cores), retried
  when they die;
- :mod:`stream.scale.report`: the progress display and the summary table.
"""
