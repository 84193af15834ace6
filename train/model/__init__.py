"""Networks and their lifecycle: backbones and heads, training data and augmentation, the
trainer, evaluation, and the exported artifact the runtime loads."""
