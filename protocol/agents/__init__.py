"""Trader and LP agents for simulations (``protocol.agents``).

``AGENT_TYPES`` maps each scenario name to its class and default parameters; a scenario's
population entry overrides any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protocol.agents.base import Activity, Agent, Context, Holding
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
    cls: type[Agent]
    params: type
    defaults: dict[str, Any]


AGENT_TYPES: dict[str, AgentType] = {
    "conservative": AgentType(ConservativeTrader, TraderParams,
                              {"leverage": (2.0, 5.0), "fraction": (0.05, 0.10)}),
    "speculator": AgentType(Speculator, TraderParams,
                            {"leverage": (20.0, 50.0), "fraction": (0.10, 0.30)}),
    "hedger": AgentType(Hedger, TraderParams, {"leverage": (3.0, 10.0), "fraction": (0.10, 0.20)}),
    "risk_sized": AgentType(RiskSizedTrader, RiskSizedParams, {}),
    "margin_topper": AgentType(MarginTopper, MarginTopperParams,
                               {"leverage": (10.0, 25.0), "fraction": (0.05, 0.15)}),
    "stop_loss": AgentType(StopLossTrader, StopLossParams,
                           {"leverage": (5.0, 20.0), "fraction": (0.05, 0.15)}),
    "noise": AgentType(NoiseTrader, TraderParams,
                       {"leverage": (1.0, 20.0), "fraction": (0.02, 0.20)}),
    "lp": AgentType(LiquidityProvider, LPParams, {}),
}

__all__ = ["AGENT_TYPES", "Activity", "Agent", "AgentType", "ConservativeTrader", "Context",
           "Hedger", "Holding", "LPParams", "LiquidityProvider", "MarginTopper",
           "MarginTopperParams", "NoiseTrader", "RiskSizedParams", "RiskSizedTrader",
           "Speculator", "StopLossParams", "StopLossTrader", "TraderParams", "TradingAgent"]
