"""Call trees from EIP-3155 opcode traces, for revm (pyrevm 0.3.7 prints them, one JSON step a
line, on the process's stdout when ``EVM.tracing`` is on).

Its steps carry the stack but neither memory nor return data, so a nested call is rebuilt from
what the stack shows: the callee and value from the CALL's arguments, success from the word the
call pushes, gas from the callee's first and last steps, and calldata from the words the callee
itself loads with CALLDATALOAD (the selector and, where the callee read them all, the static
arguments; the rest shows as ``…``). Nested return values and revert data are not in the steps:
those frames show success or ``[revert]`` without data; the transaction's own output and error
are exact.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
from contextlib import contextmanager
from typing import Any, Iterator

from eth_utils.address import to_checksum_address

from protocol.chain.trace import RawFrame

_CALLS = {"CALL": 2, "CALLCODE": 2, "DELEGATECALL": 2, "STATICCALL": 2, "CREATE": 0, "CREATE2": 0}
_ENDS = ("RETURN", "REVERT", "STOP", "SELFDESTRUCT")


class _Open:
    """A frame whose steps are being read."""

    __slots__ = ("frame", "depth", "start_gas", "words", "loading", "known_input")

    def __init__(self, frame: RawFrame, depth: int, start_gas: int, known_input: bool):
        self.frame, self.depth, self.start_gas = frame, depth, start_gas
        self.words: dict[int, int] = {}
        self.loading: int | None = None  # offset of a CALLDATALOAD whose result is next
        self.known_input = known_input


def call_tree(lines: list[str], root: RawFrame) -> RawFrame:
    """Hang the nested calls of ``lines`` (the transaction's steps) under ``root`` (the
    transaction's own call, whose input, output, gas and outcome are already exact)."""
    steps = [json.loads(line) for line in lines if line.startswith('{"pc"')]
    if not steps:
        return root
    stack = [_Open(root, steps[0]["depth"], int(steps[0]["gas"], 16), True)]
    for i, step in enumerate(steps):
        following = steps[i + 1] if i + 1 < len(steps) else None
        depth = step["depth"]
        now = stack[-1]
        if now.loading is not None:
            now.words[now.loading] = int(step["stack"][-1], 16)
            now.loading = None
        op = step["opName"]
        if op == "CALLDATALOAD" and not now.known_input:
            now.loading = int(step["stack"][-1], 16)
        elif op in _CALLS:
            words = step["stack"]
            target = words[-_CALLS[op]] if _CALLS[op] else None
            value = int(words[-3], 16) if op in ("CALL", "CALLCODE") else \
                int(words[-1], 16) if op.startswith("CREATE") else 0
            child = RawFrame(op, _address(target) if target else None, b"", None, value, 0, True)
            now.frame.children.append(child)
            if following is not None and following["depth"] == depth + 1:
                stack.append(_Open(child, depth + 1, int(following["gas"], 16), False))
                continue
            child.success = following is not None and int(following["stack"][-1], 16) != 0
            if op.startswith("CREATE") and child.success and following is not None:  # success: it is
                child.to = _address(following["stack"][-1])
        if following is None or following["depth"] < depth:
            done = stack.pop()
            if not stack:
                break
            _finish(done, step, following)
    return root


def _finish(done: _Open, last: dict[str, Any], following: dict[str, Any] | None) -> None:
    """Close a nested frame at its last step; the caller's next step holds the call's result."""
    frame = done.frame
    ended = last["opName"] in _ENDS
    remaining = int(last["gas"], 16) - int(last["gasCost"], 16) if ended else 0
    frame.gas_used = done.start_gas - remaining
    pushed = int(following["stack"][-1], 16) if following is not None else 0
    frame.success = pushed != 0
    if frame.kind.startswith("CREATE") and frame.success and following is not None:  # success: it is
        frame.to = _address(following["stack"][-1])
    if not frame.success and not ended:
        frame.halt = last.get("error") or "halt"
    if 0 in done.words:
        frame.input = _calldata(done.words)


def _calldata(words: dict[int, int]) -> bytes:
    """The selector and the argument words loaded contiguously from offset 4."""
    data = (words[0] >> 224).to_bytes(4, "big")
    offset = 4
    while offset in words:
        data += words[offset].to_bytes(32, "big")
        offset += 32
    return data


def _address(word: str) -> str:
    return to_checksum_address(int(word, 16).to_bytes(32, "big")[12:])


@contextmanager
def captured_stdout() -> Iterator[list[str]]:
    """Context: what is printed meanwhile, as lines (filled on exit), whether through Python's
    ``sys.stdout`` (where pyrevm's tracer writes) or straight to file descriptor 1."""
    lines: list[str] = []
    sys.stdout.flush()
    text = io.StringIO()
    with tempfile.TemporaryFile() as sink:
        saved_fd, saved_stdout = os.dup(1), sys.stdout
        os.dup2(sink.fileno(), 1)
        sys.stdout = text
        try:
            yield lines
        finally:
            sys.stdout = saved_stdout
            os.dup2(saved_fd, 1)
            os.close(saved_fd)
            sink.seek(0)
            lines.extend(text.getvalue().splitlines())
            lines.extend(sink.read().decode().splitlines())
