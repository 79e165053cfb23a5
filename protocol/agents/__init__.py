"""Trader and LP agents for simulations (``protocol.agents``).

``AGENT_TYPES`` maps each scenario name to its class and default parameters; a scenario's
population entry overrides any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from protocol.agents.attackers import (
    Attacker,
    Manipulator,
    ManipulatorParams,
    MarginPuller,
    MarginPullerParams,
    SelfLiquidator,
    SelfLiquidatorParams,
)
from protocol.agents.base import Activity, Agent, Context, Holding, NoParams
from protocol.agents.intent import (
    FundingArbitrageur,
    FundingArbParams,
    InformedParams,
    MarketMakerParams,
    MeanReversionTrader,
    MomentumTrader,
    SkewMarketMaker,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance
from protocol.agents.traders import (
    ConservativeTrader,
    Hedger,
    LiquidityProvider,
    LPParams,
    MarginTopper,
    MarginTopperParams,
    NoiseTrader,
    RiskSizedParams,
    RiskSizedTrader,
    Speculator,
    StopLossParams,
    StopLossTrader,
    TraderParams,
    TradingAgent,
)


@dataclass(frozen=True)
class AgentType:
    """An agent class, its parameters (``cls.Params``) and the defaults a scenario's population
    starts from."""

    cls: type[Agent]
    params: type[DataclassInstance]
    defaults: dict[str, Any]

    @classmethod
    def of(cls, agent: type[Agent], defaults: Optional[dict[str, Any]] = None) -> "AgentType":
        return cls(agent, agent.Params, dict(defaults or {}))


AGENT_TYPES: dict[str, AgentType] = {
    "conservative": AgentType.of(ConservativeTrader, {"leverage": (2.0, 5.0), "fraction": (0.05, 0.10)}),
    "speculator": AgentType.of(Speculator, {"leverage": (20.0, 50.0), "fraction": (0.10, 0.30)}),
    "hedger": AgentType.of(Hedger, {"leverage": (3.0, 10.0), "fraction": (0.10, 0.20)}),
    "risk_sized": AgentType.of(RiskSizedTrader),
    "margin_topper": AgentType.of(MarginTopper, {"leverage": (10.0, 25.0), "fraction": (0.05, 0.15)}),
    "stop_loss": AgentType.of(StopLossTrader, {"leverage": (5.0, 20.0), "fraction": (0.05, 0.15)}),
    "noise": AgentType.of(NoiseTrader, {"leverage": (1.0, 20.0), "fraction": (0.02, 0.20)}),
    "lp": AgentType.of(LiquidityProvider),
    "funding_arb": AgentType.of(FundingArbitrageur),
    "market_maker": AgentType.of(SkewMarketMaker),
    "momentum": AgentType.of(MomentumTrader, {"leverage": (2.0, 5.0), "fraction": (0.05, 0.10)}),
    "mean_reversion": AgentType.of(MeanReversionTrader,
                                   {"leverage": (2.0, 5.0), "fraction": (0.05, 0.10)}),
    "manipulator": AgentType.of(Manipulator),
    "self_liquidator": AgentType.of(SelfLiquidator),
    "margin_puller": AgentType.of(MarginPuller),
}

__all__ = ["AGENT_TYPES", "Activity", "Agent", "AgentType", "Attacker", "Manipulator",
           "ManipulatorParams", "MarginPuller", "MarginPullerParams", "SelfLiquidator",
           "SelfLiquidatorParams", "ConservativeTrader", "Context",
           "Hedger", "Holding", "LPParams", "LiquidityProvider", "MarginTopper",
           "MarginTopperParams", "NoParams", "NoiseTrader", "RiskSizedParams", "RiskSizedTrader",
           "Speculator", "StopLossParams", "StopLossTrader", "TraderParams", "TradingAgent",
           "FundingArbitrageur", "FundingArbParams", "SkewMarketMaker", "MarketMakerParams",
           "MomentumTrader", "MeanReversionTrader", "InformedParams"]
