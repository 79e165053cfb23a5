"""Reading EVM code as instructions."""

from __future__ import annotations

from typing import Optional


def instruction_offsets(code: bytes, end: Optional[int] = None) -> list[int]:
    """The program counter of each instruction of ``code[:end]``, in order (PUSH data skipped)."""
    offsets, pc, end = [], 0, len(code) if end is None else end
    while pc < end:
        offsets.append(pc)
        op = code[pc]
        pc += op - 0x5E if 0x60 <= op <= 0x7F else 1
    return offsets
