"""EVM backends behind one interface: ``pyevm`` (reference), ``revm`` (fast), ``rpc`` (a node).

>>> chain = connect("revm")
>>> me = chain.new_account()
>>> usdc = chain.deploy("MockUSDC", sender=me)
>>> usdc.transact(me, "mint", me, 10**6).status
True
"""

from __future__ import annotations

from protocol.chain.abi import Artifact, ContractABI, Event, load_artifact
from protocol.chain.base import ETHER, GENESIS_TIMESTAMP, Chain, Contract, Receipt, account_key
from protocol.errors import ChainError

BACKENDS = ("pyevm", "revm", "rpc")


def connect(backend: str = "pyevm", *, url: str | None = None,
            genesis_timestamp: int = GENESIS_TIMESTAMP) -> Chain:
    """A fresh chain. ``rpc`` talks to ``url``, or starts its own anvil when no url is given."""
    # Function-level, each backend: only the chosen one's EVM (py-evm, pyrevm, a node client)
    # is loaded.
    if backend == "pyevm":
        from protocol.chain.pyevm import PyEVMChain  # function-level: see above

        return PyEVMChain(genesis_timestamp)
    if backend == "revm":
        from protocol.chain.revm import RevmChain  # function-level: see above

        return RevmChain(genesis_timestamp)
    if backend == "rpc":
        from protocol.chain.rpc import RPCChain, launch_anvil  # function-level: see above

        if url is None:
            return launch_anvil(genesis_timestamp)
        return RPCChain(url, genesis_timestamp)
    raise ChainError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "ETHER", "GENESIS_TIMESTAMP", "Artifact", "Chain", "ChainError",
           "Contract", "ContractABI", "Event", "Receipt", "account_key", "connect",
           "load_artifact"]
