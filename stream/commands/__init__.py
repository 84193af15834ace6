"""One module per ``poseloop`` subcommand.

A module ``foo_bar.py`` is the command ``poseloop foo-bar``: its docstring's first
line is the help line, ``add_arguments(parser)`` declares its options and
``main(args)`` runs it (returning an exit code or None), calling the Python function
that takes every option as a parameter. An optional ``check_arguments(args)`` returns
what is wrong with a combination of options (reported like a bad option). Path
arguments are checked by the types of :mod:`stream.commands._arguments` when they are
parsed; modules starting with ``_`` are not commands. Modules are imported only when
their command runs.
"""
