"""What a change of a market's parameters would do to the book, before anyone makes it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Optional

from protocol.venue.units import from_wad

if TYPE_CHECKING:
    from protocol.venue.client import Venue


@dataclass(frozen=True)
class MarketChangePreview:
    """``liquidatable``: the ``(address, market or None)`` targets the change would make
    liquidatable (those already liquidatable are left out); ``shortfall``: their total equity
    below maintenance after the change, USD."""

    market: str
    changes: dict[str, Any]
    liquidatable: list[tuple[str, Optional[str]]]
    shortfall: Decimal


def preview_market_change(venue: "Venue", market: str, **changes: Any) -> MarketChangePreview:
    """Apply ``changes`` (``MarketConfig`` fields; ``tiers`` through ``setMarketTiers``) to
    ``market`` inside a snapshot, scan the book before and after, and undo everything."""
    config = replace(venue.markets[market], **changes)  # a bad field name raises TypeError
    before = set(_all_liquidatable(venue))
    with venue.snapshot():
        with venue.chain.block():  # a scheduled change would not show: apply it now, in one block
            venue.clearinghouse.set_risk_change_delay(0, sender=venue.admin).raise_for_status()
            venue.clearinghouse.configure_market(
                venue.market_id(market), config.symbol_bytes(), config.encode(venue.decimals),
                sender=venue.admin).raise_for_status()
            if "tiers" in changes:
                venue.clearinghouse.set_market_tiers(
                    venue.market_id(market), *config.tiers_encoded(),
                    sender=venue.admin).raise_for_status()
        after = [t for t in _all_liquidatable(venue) if t not in before]
        health = venue.reader.health(venue.clearinghouse.address,
                                     venue.encode_targets(after)) if after else []
    shortfall = sum((from_wad(mm) - from_wad(equity) for _, _, equity, mm, _ in health), Decimal(0))
    return MarketChangePreview(market, dict(changes), after, shortfall)


def _all_liquidatable(venue: "Venue") -> list[tuple[str, Optional[str]]]:
    found: list[tuple[str, Optional[str]]] = []
    start, total = 0, venue.account_count()
    while start < total:
        chunk, start = venue.liquidatable(start, 1_000)
        found.extend(chunk)
    return found
