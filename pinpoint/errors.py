"""The errors a user can fix: bad params, data files, model names. Stages and the CLI turn each
into one line on stderr and exit code 2. They sit in the lowest module so that every layer can
raise them without importing the layers above (the stage machinery, models, tuning)."""


class UserError(Exception):
    """Bad input a user can fix: params, data files, model ids. One line, exit 2."""


class ParamsError(UserError, ValueError):
    """A params value is wrong; the message names the key path (organism.tune.lr.spt: ...)."""


class UnsupportedArchitecture(UserError, ValueError):
    """A model whose attention pinpoint cannot split into heads."""


class HubUnavailable(UserError, RuntimeError):
    """A hub model that is neither cached nor reachable."""


class BaseMismatch(UserError, ValueError):
    """A tuned checkpoint whose base model is not the one it was trained from."""
