"""The error a user can fix: bad params, data files, model names. Stages and the CLI turn it
into one line on stderr and exit code 2. It sits in its own module so that every layer can
raise it without importing the stage machinery."""


class UserError(Exception):
    """Bad input a user can fix: params, data files, model ids. One line, exit 2."""
