"""The root of perpsim's exceptions, in a module of its own (standard library only) so that the
lowest layers -- the reference model, the price paths, the toolchain -- can derive from it.
:mod:`protocol.errors` hands it on with the reverts."""


class PerpsimError(Exception):
    """Base class of every perpsim exception."""
