"""One module per ``poseloop`` subcommand.

A module ``foo_bar.py`` is the command ``poseloop foo-bar``: its docstring's first
line is the help line, ``add_arguments(parser)`` declares its options and
``main(args)`` runs it (returning an exit code or None). Modules are imported only
when their command runs.
"""
