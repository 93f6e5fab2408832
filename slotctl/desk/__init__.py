"""``slotctl desk``: the front-desk screen (Textual), on the services the commands use.

Only :mod:`slotctl.cli.desk` imports this package, inside the command, so Textual
never loads for ``--help`` or any other command.
"""
