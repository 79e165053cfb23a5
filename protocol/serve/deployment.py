"""``deployment.json``: what a bot outside perpsim needs to find the venue served on a node."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, Field

from protocol.bindings import BoundContract
from protocol.chain import Contract, load_artifact
from protocol.chain.base import CHAIN_ID
from protocol.deploy.plan import LIBRARIES
from protocol.venue import Venue

SCHEMA_VERSION = 1
STEP_METHOD = "perpsim_step"
STATUS_METHOD = "perpsim_status"


class ContractInfo(BaseModel):
    address: str = Field(description="checksummed address")
    artifact: str = Field(description="contract name in protocol/artifacts")
    abi: list[dict[str, Any]] = Field(description="the ABI as solc writes it")
    binding: Optional[str] = Field(
        default=None, description="the typed Python class of protocol.bindings that drives it "
                                  "(module:Class), for bots written in Python; null: none")


class MarketInfo(BaseModel):
    id: int = Field(description="market id in every Clearinghouse call")
    feed: str = Field(description="Chainlink AggregatorV3 feed of the oracle price (18 decimals)")
    max_leverage: int


class KeeperAccount(BaseModel):
    address: str
    private_key: str = Field(description="0x-prefixed hex; funded with ether for gas")


class Blocks(BaseModel):
    total: int = Field(description="blocks the scenario runs")
    block_time: int = Field(description="simulated seconds per block")
    pace_seconds: Optional[float] = Field(description="wall seconds per block; null with --step")
    step_method: Optional[str] = Field(description="JSON-RPC method that runs blocks; null with --pace")
    status_method: str = Field(description="JSON-RPC method reporting the blocks done")


class DeploymentDoc(BaseModel):
    """The whole file (``schema`` is bumped on any incompatible change)."""

    schema_version: int = Field(default=SCHEMA_VERSION, alias="schema")
    rpc_url: str
    chain_id: int
    scenario: str
    seed: int
    blocks: Blocks
    collateral_decimals: int
    contracts: dict[str, ContractInfo] = Field(
        description="by deployment name: usdc, oracle, clearinghouse, pool, order_book, reader, "
                    "feed:SYMBOL, and module:KIND for custom rule modules")
    markets: dict[str, MarketInfo]
    keepers: list[KeeperAccount]

    model_config = {"populate_by_name": True}


def describe(venue: Venue, *, rpc_url: str, scenario: str, seed: int, blocks: Blocks,
             keepers: list[KeeperAccount], artifacts: Optional[Path] = None) -> DeploymentDoc:
    """The document for a launched venue (``artifacts``: where its compiled contracts are,
    when not the project's own)."""
    contracts = {name: ContractInfo(address=c.address, artifact=c.name,
                                    abi=load_artifact(c.name, artifacts).raw["abi"],
                                    binding=_binding(c))
                 for name, c in venue.deployment.contracts.items() if name not in LIBRARIES}
    feeds = venue.deployment.feeds
    markets = {symbol: MarketInfo(id=venue.market_id(symbol), feed=feeds[symbol].address,
                                  max_leverage=int(config.max_leverage))
               for symbol, config in venue.markets.items()}
    return DeploymentDoc(rpc_url=rpc_url, chain_id=CHAIN_ID, scenario=scenario, seed=seed,
                         blocks=blocks, collateral_decimals=venue.decimals, contracts=contracts,
                         markets=markets, keepers=keepers)


def write(doc: DeploymentDoc, path: Path) -> None:
    """Write ``path`` (JSON) and, beside it, the same addresses as shell variables (``.env``);
    each atomically, the JSON last: a bot polling for it never reads half a file."""
    _write_atomically(path.with_suffix(".env"), shell_variables(doc))
    _write_atomically(path, doc.model_dump_json(indent=2, by_alias=True))


def shell_variables(doc: DeploymentDoc) -> str:
    """``export NAME=value`` lines for ``source``: ``ETH_RPC_URL`` (which cast reads), each
    contract's address by its deployment name in capitals (``feed:ETH`` -> ``FEED_ETH``), and
    the first keeper account as ``KEEPER_ADDRESS`` / ``KEEPER_KEY``."""
    values = {"ETH_RPC_URL": doc.rpc_url, "CHAIN_ID": str(doc.chain_id)}
    values |= {name.replace(":", "_").upper(): c.address for name, c in doc.contracts.items()}
    if doc.keepers:
        values |= {"KEEPER_ADDRESS": doc.keepers[0].address,
                   "KEEPER_KEY": doc.keepers[0].private_key}
    return "".join(f"export {name}={value}\n" for name, value in values.items())


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def _binding(contract: Contract) -> Optional[str]:
    """``module:Class`` of the binding that drives ``contract`` (the chain gave every handle
    its class; None: a plain handle)."""
    return f"{type(contract).__module__}:{type(contract).__name__}" \
        if isinstance(contract, BoundContract) else None
