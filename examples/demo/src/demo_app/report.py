"""Plain-text stock report for the demo project."""

from __future__ import annotations

from .inventory import Inventory


def render(inventory: Inventory) -> str:
    lines = [f"{'SKU':<10} {'QTY':>5} {'RES':>5} STATUS"]
    for sku in sorted(inventory.items):
        item = inventory.items[sku]
        lines.append(f"{sku:<10} {item.quantity:>5} {item.reserved:>5} {inventory.status(sku)}")
    return "\n".join(lines)
