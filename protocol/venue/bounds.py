"""The contracts' parameter bounds for the client: :mod:`protocol.margin.bounds` (standard
library only, shared with the reference model) re-exported, so both read one table."""

from protocol.margin.bounds import (  # noqa: F401
    BOUNDS,
    BY_FIELD,
    RELATION_BY_FIELD,
    RELATIONS,
    Bound,
    InexactRate,
    ParameterOutOfBounds,
    Relation,
    bound,
    contract_table,
    markdown_table,
    mmf_below_inverse_leverage,
)

__all__ = ["BOUNDS", "BY_FIELD", "RELATIONS", "RELATION_BY_FIELD", "Bound", "Relation",
           "ParameterOutOfBounds", "InexactRate", "bound", "contract_table", "markdown_table",
           "mmf_below_inverse_leverage"]
