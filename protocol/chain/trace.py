"""Decoded call traces: which contract called which, with what, and where it reverted with which
error.

A backend records a transaction's call tree as :class:`RawFrame` (addresses and bytes);
:meth:`CallTrace.decode` names every contract and function from the chain's registry of deployed
contracts and decodes arguments, return values and custom errors. What each backend records:

- **pyevm**: the whole tree, from py-evm's computations (every CALL, STATICCALL, DELEGATECALL,
  CALLCODE and CREATE, with its input, output, gas and error), recorded as the transaction runs.
- **rpc**: the whole tree, from the node's ``debug_traceTransaction`` with the ``callTracer``
  (anvil has it), fetched when the trace is first asked for.
- **revm**: by default the transaction's own call only (contract, function, arguments, gas,
  result or decoded error; ``complete`` is False). With ``chain.record_traces = True`` every
  transaction runs under pyrevm's EIP-3155 tracer and the tree is rebuilt from its opcode steps
  (:mod:`protocol.chain.eip3155`): every nested call with its kind, contract, function, gas and
  outcome, arguments where the callee loaded them, but no nested return values or revert data
  (the steps carry neither memory nor return data). The tracer is slow (about 2 ms an opcode
  step: seconds for a liquidation), so it is off unless asked for.

External library functions that take storage pointers are not in a library's ABI; they are
named from the compiler's method identifiers and shown without arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

from eth_utils.address import to_checksum_address

from protocol.chain.codec import decoder
from protocol.errors import Reverted

if TYPE_CHECKING:
    from protocol.chain.abi import Registry
    from protocol.chain.base import Receipt

CALL_KINDS = ("CALL", "STATICCALL", "DELEGATECALL", "CALLCODE", "CREATE", "CREATE2")
_ARGUMENT_CHARS = 400  # longer decoded argument lists are cut, so a trace stays readable


@dataclass
class RawFrame:
    """One call as a backend saw it. ``to`` is the address whose code ran (for a DELEGATECALL the
    library, for a CREATE the new contract); ``halt`` names a failure without revert data (out
    of gas, invalid opcode)."""

    kind: str
    to: str | None
    input: bytes
    output: bytes | None  # None: the backend did not record it (revm's nested calls)
    value: int
    gas_used: int
    success: bool
    halt: str | None = None
    children: list["RawFrame"] = field(default_factory=list)


def top_level_frame(receipt: "Receipt") -> RawFrame:
    """The transaction's own call, from its receipt (backends that record no tree)."""
    kind = "CREATE" if receipt.to is None else "CALL"
    to = receipt.contract_address if receipt.to is None else receipt.to
    return RawFrame(kind, to, receipt.data, receipt.output, 0, receipt.gas_used, receipt.status)


@dataclass(frozen=True)
class Frame:
    """One decoded call: ``contract`` and ``function`` are None where the registry does not know
    the address or the selector; ``error`` is the decoded revert of a failed call."""

    kind: str
    address: str | None
    contract: str | None
    function: str | None
    arguments: str  # decoded, as ``name=value, ...`` ("…" when they cannot be decoded)
    returned: str
    success: bool
    output_known: bool
    error: Reverted | None
    halt: str | None
    gas_used: int
    value: int
    children: tuple["Frame", ...]

    @property
    def label(self) -> str:
        contract = self.contract or (self.address or "?")
        function = self.function or "?"
        return f"{contract}::{function}({self.arguments})"

    def walk(self, depth: int = 0) -> Iterator[tuple[int, "Frame"]]:
        """This frame and every frame below it, depth first, with their depth."""
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)


@dataclass(frozen=True)
class CallTrace:
    """A transaction's decoded call tree. ``complete`` is False when the backend records the
    transaction's own call only (revm)."""

    root: Frame
    complete: bool
    backend_note: str = ""

    @classmethod
    def decode(cls, raw: RawFrame, registry: "Registry", *, complete: bool = True) -> "CallTrace":
        root = _decode(raw, registry)
        if not complete:
            note = ("nested calls not recorded on revm: run on pyevm or rpc, or set "
                    "chain.record_traces = True (seconds a transaction)")
        elif any(not frame.output_known for _, frame in root.walk()):
            note = ("nested calls rebuilt from EIP-3155 steps: their return values and revert "
                    "data are not recorded; run on pyevm or rpc for them")
        else:
            note = ""
        return cls(root, complete, note)

    @property
    def reverted_at(self) -> Frame | None:
        """The innermost failed call on the path of failures from the top (where the revert
        began), or None if the transaction succeeded."""
        frame = self.root
        if frame.success:
            return None
        while True:
            cause = next((c for c in reversed(frame.children) if _same_failure(c, frame)), None)
            if cause is None:
                return frame
            frame = cause

    def frames(self) -> Iterator[tuple[int, Frame]]:
        return self.root.walk()

    def render(self) -> str:
        """The tree as text, one call a line, like ``forge test -vvvv``."""
        lines: list[str] = []
        _render(self.root, "", "", lines)
        if self.backend_note:
            lines.append(f"({self.backend_note})")
        return "\n".join(lines)

    __str__ = render


def _same_failure(child: Frame, parent: Frame) -> bool:
    """Whether ``parent`` failed because ``child`` did (its revert data passed on as is)."""
    if child.success:
        return False
    if not child.output_known:  # revm's nested calls: the last failed one is taken as the cause
        return not parent.success
    if child.error is not None and parent.error is not None:
        return child.error.data == parent.error.data
    return child.halt is not None and child.halt == parent.halt


def _render(frame: Frame, head: str, indent: str, lines: list[str]) -> None:
    kind = "" if frame.kind == "CALL" else f" [{frame.kind.lower()}]"
    value = f" {{value: {frame.value}}}" if frame.value else ""
    lines.append(f"{head}[{frame.gas_used}] {frame.label}{value}{kind}")
    outcome = _outcome(frame)
    items = list(frame.children)
    for i, child in enumerate(items):
        last = i == len(items) - 1 and outcome is None
        _render(child, indent + ("└─ " if last else "├─ "), indent + ("   " if last else "│  "),
                lines)
    if outcome is not None:
        lines.append(f"{indent}└─ {outcome}")


def _outcome(frame: Frame) -> str | None:
    if frame.success:
        return f"← {frame.returned}" if frame.returned else None
    if frame.error is not None:
        return f"← [revert] {_error_text(frame.error)}"
    if frame.halt is None and not frame.output_known:
        return "← [revert] (revert data not recorded)"
    return f"← [{frame.halt or 'revert'}]"


def _error_text(error: Reverted) -> str:
    if error.error is None:
        return "(no revert data)"
    names = error.arg_names if len(error.arg_names) == len(error.args) else ("",) * len(error.args)
    shown = ", ".join(f"{n}={_show(v)}" if n else _show(v) for n, v in zip(names, error.args))
    return f"{error.error}({shown})"


def _decode(raw: RawFrame, registry: "Registry") -> Frame:
    children = tuple(_decode(c, registry) for c in raw.children)
    known = registry.contract_at(raw.to)
    contract = known.name if known else None
    function, arguments, returned = None, "…" if raw.input else "", ""
    if raw.kind.startswith("CREATE"):
        function, arguments = "constructor", "…"
    elif len(raw.input) >= 4 and known is not None:
        selector = raw.input[:4]
        fn = known.abi.by_selector.get(selector)
        if fn is not None:
            function = fn.name
            arguments = _decode_arguments(fn.inputs, fn.input_names, raw.input[4:])
            if raw.success and fn.outputs and raw.output is not None:
                returned = _decode_arguments(fn.outputs, (), raw.output)
        else:
            function = known.function_name(selector) or f"0x{selector.hex()}"
    elif len(raw.input) >= 4:
        function = f"0x{raw.input[:4].hex()}"
    elif not raw.input:
        function = "receive" if raw.value else "fallback"
    error = None
    if not raw.success and raw.output is not None and (raw.output or raw.halt is None):
        error = registry.decode_error(raw.output)
    return Frame(raw.kind, raw.to, contract, function, arguments, returned, raw.success,
                 raw.output is not None, error, raw.halt, raw.gas_used, raw.value, children)


def _decode_arguments(types: tuple[str, ...], names: tuple[str, ...], data: bytes) -> str:
    try:
        values = decoder(types)(data)
    except Exception:  # calldata that does not fit the ABI: show that rather than failing
        return "…"
    named = names if len(names) == len(values) else ("",) * len(values)
    text = ", ".join(f"{n}={_show(v)}" if n else _show(v) for n, v in zip(named, values))
    return text if len(text) <= _ARGUMENT_CHARS else text[:_ARGUMENT_CHARS] + "…"


def _show(value: Any) -> str:
    if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
        return to_checksum_address(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_show(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    return str(value)
