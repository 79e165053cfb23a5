"""Testing tools for auditors: SPEC §12 invariants as an assertion, a pytest plugin with venue
fixtures (installed as ``pytest11`` entry point ``perpsim``), and a stateful fuzzer.

>>> from protocol.testing import assert_invariants
>>> assert_invariants(venue)            # raises InvariantViolation naming what broke
"""

from protocol.testing.invariants import InvariantViolation, assert_invariants, load_state

__all__ = ["InvariantViolation", "assert_invariants", "load_state"]
