"""perpsim's exceptions: one root, and custom-error classes only for names a contract declares."""

from __future__ import annotations

import importlib
import inspect

import pytest
from test_layers import MODULES

from protocol import errors
from protocol.build import declared_error_names
from protocol.chain.abi import ContractABI, Registry


def test_a_declared_custom_error_is_importable_and_a_revert():
    from protocol.errors import StalePrice  # declared by the project's contracts

    assert "StalePrice" in declared_error_names()
    assert issubclass(StalePrice, errors.Reverted) and issubclass(StalePrice, errors.PerpsimError)
    assert errors.StalePrice is StalePrice  # one class per name
    # OpenZeppelin's errors are declared in the ABIs of the contracts that inherit them.
    assert issubclass(errors.AccessControlUnauthorizedAccount, errors.Reverted)


def test_a_misspelt_error_name_fails_at_import():
    with pytest.raises(ImportError, match="StalePirce"):
        from protocol.errors import StalePirce  # noqa: F401
    with pytest.raises(AttributeError) as info:
        errors.PositionHealty
    assert str(info.value) == ("module 'protocol.errors' has no attribute 'PositionHealty' "
                               "(no contract declares a custom error of that name)")
    with pytest.raises(AttributeError):
        errors.stale_price  # not a class name at all


def test_a_users_contract_declares_its_errors_when_a_chain_loads_it():
    name = "OnlyInThisUsersModule"
    assert name not in declared_error_names()
    with pytest.raises(AttributeError):
        getattr(errors, name)
    Registry().add(ContractABI([{"type": "error", "name": name,
                                 "inputs": [{"name": "size", "type": "uint256"}]}]))
    cls = getattr(errors, name)
    assert issubclass(cls, errors.Reverted) and cls.__name__ == name


def _exception_classes():
    """Every exception class defined in a module of the ``protocol`` package (the layers test's
    list, read from the files: pkgutil does not walk namespace folders such as ``protocol/sim``)."""
    found = {}
    for name in sorted(MODULES):
        if name.endswith("__main__"):  # a program, not a module
            continue
        module = importlib.import_module(name)
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, BaseException)
                    and obj.__module__ == module.__name__):
                found[f"{module.__name__}.{name}"] = obj
    return found


def test_every_perpsim_exception_is_a_perpsim_error():
    classes = _exception_classes()
    assert "protocol.testing.invariants.InvariantViolation" in classes and len(classes) >= 25
    assert "protocol.sim.locate.ScenarioError" in classes  # in a namespace package
    outside = sorted(name for name, cls in classes.items()
                     if not issubclass(cls, errors.PerpsimError)
                     # private control flow that never leaves its module
                     and not name.rsplit(".", 1)[1].startswith("_")
                     # an interrupt, not an error: `except Exception` must not swallow Ctrl-C
                     and issubclass(cls, Exception))
    assert outside == []
    # The one interrupt keeps KeyboardInterrupt's meaning.
    interrupts = [name for name, cls in classes.items() if not issubclass(cls, Exception)]
    assert interrupts == ["protocol.sweep.interrupt.SweepInterrupted"]
    # Those that were ValueErrors, AssertionErrors... still are, so existing handlers still catch.
    from protocol.sim.locate import ScenarioError
    from protocol.testing.invariants import InvariantViolation

    assert issubclass(ScenarioError, ValueError) and issubclass(InvariantViolation, AssertionError)
