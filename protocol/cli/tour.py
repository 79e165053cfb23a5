"""``perpsim tour``: a guided walk through the venue (both margin modes, a crash, liquidations)."""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable

import click
from rich.console import Console
from rich.table import Table

from protocol import Venue
from protocol.venue import Trader

console = Console(width=max(Console().width, 110))


def _deployment_table(backends: list[str]) -> Table:
    table = Table(title="Deployment (contract, bytecode size, deploy gas, backend)")
    for column in ("contract", "runtime bytes", "deploy gas", "backend"):
        table.add_column(column, justify="left" if column in ("contract", "backend") else "right")
    for backend in backends:
        venue = Venue.launch(backend=backend)
        d = venue.deployment
        contracts = [d.usdc, d.oracle, d.clearinghouse, d.pool, *d.feeds.values()]
        for contract in contracts[:5]:
            code = len(contract.chain.code(contract.address))
            gas = contract.deploy_receipt.gas_used
            table.add_row(contract.name, f"{code:,}", f"{gas:,}", backend)
        venue.chain.close()
    return table


def _positions_table(venue: Venue, traders: Iterable[Trader], title: str) -> Table:
    table = Table(title=title)
    for column in ("trader", "market", "mode", "size", "entry", "margin", "equity", "MM",
                   "liq. price"):
        table.add_column(column, justify="left" if column in ("trader", "market", "mode")
                         else "right")
    for trader in traders:
        for market in venue.markets:
            p = venue.position(trader, market)
            if p is None:
                table.add_row(trader.name, market, "-", "closed", "", "", "", "", "")
                continue
            liq = f"{p.liquidation_price:,.2f}" if p.liquidation_price else "-"
            table.add_row(trader.name, market, p.mode, f"{p.size.normalize():+}", f"{p.entry_price:,.2f}",
                          f"{p.margin:,.2f}", f"{p.equity:,.2f}", f"{p.maintenance_margin:,.2f}",
                          liq)
    return table


@click.command()
@click.option("--backend", type=click.Choice(["revm", "pyevm"]), default="revm",
              show_default=True)
def tour(backend: str) -> None:
    """Deploy the venue, open isolated and cross positions, crash the price, liquidate."""
    console.print(_deployment_table(["pyevm", "revm"]))
    venue = Venue.launch(backend=backend, insurance=5_000)
    alice = venue.trader("alice", usdc=10_000)
    bob = venue.trader("bob", usdc=10_000)
    alice.deposit(2_000)
    bob.deposit(700)
    alice.open("ETH", size=2, leverage=25, mode="isolated", margin=300)
    alice.open("BTC", size=-0.05, leverage=10, mode="cross")
    bob.open("ETH", size=2, leverage=20, mode="cross")
    bob.open("BTC", size=0.02, leverage=20, mode="cross")
    console.print(_positions_table(venue, (alice, bob), "Before: ETH 3,000, BTC 60,000"))

    venue.set_prices({"ETH": Decimal(2_700), "BTC": Decimal(57_000)})
    console.print("[bold]Crash:[/] ETH -10%, BTC -5%")
    keeper = venue.keeper("keeper")
    for trader in (alice, bob):
        for market in venue.markets:
            if venue.is_liquidatable(trader, market):
                r = keeper.liquidate(trader, market)
                e = r.events_named("PositionLiquidated")[0]
                console.print(f"liquidated {trader.name} {market} isolated: penalty "
                              f"{venue.usd(e['penalty'])} USD, bad debt "
                              f"{venue.usd(e['badDebt'])} USD (insurance fund pays first), "
                              f"gas {r.gas_used:,}")
        if venue.is_liquidatable(trader):
            r = keeper.liquidate(trader)
            e = r.events_named("AccountLiquidated")[0]
            console.print(f"liquidated {trader.name} cross account ({e['positions']} positions): "
                          f"penalty {venue.usd(e['penalty'])} USD, bad debt "
                          f"{venue.usd(e['badDebt'])} USD, gas {r.gas_used:,}")
    console.print(_positions_table(venue, (alice, bob), "After: ETH 2,700, BTC 57,000"))
    summary = Table(title="Venue")
    summary.add_column("item")
    summary.add_column("USD", justify="right")
    for label, value in (("keeper reward (cross balance)", venue.account(keeper).cross_balance),
                         ("insurance fund", venue.insurance_fund()),
                         ("pool value", venue.pool_value()),
                         ("alice cross balance", venue.account(alice).cross_balance),
                         ("bob cross balance", venue.account(bob).cross_balance)):
        summary.add_row(label, f"{value:,.2f}")
    console.print(summary)

