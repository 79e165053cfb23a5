"""Testing tools for auditors: SPEC §12 invariants and the economic properties (no free lunch,
path independence, no action leaves anyone liquidatable, bad debt only with no position left) as
assertions, the reference model replayed beside the chain (``ModelWatch``, "model agrees"), a pytest plugin with venue fixtures (installed as ``pytest11`` entry point ``perpsim``), and a stateful fuzzer.

>>> from protocol.testing import assert_invariants
>>> assert_invariants(venue)            # raises InvariantViolation naming what broke
"""

from protocol.testing.agreement import ModelWatch
from protocol.testing.invariants import InvariantViolation, assert_invariants, load_state
from protocol.testing.properties import PropertyViolation, PropertyWatch, assert_properties

__all__ = ["InvariantViolation", "ModelWatch", "PropertyViolation", "PropertyWatch", "assert_invariants",
           "assert_properties", "load_state"]
