"""Stock keeping for the demo project: enough branches to give the analyzer something."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Item:
    sku: str
    quantity: int = 0
    reserved: int = 0


@dataclass
class Inventory:
    items: dict[str, Item] = field(default_factory=dict)

    def add(self, sku: str, quantity: int) -> Item:
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        item = self.items.setdefault(sku, Item(sku))
        item.quantity += quantity
        return item

    def reserve(self, sku: str, quantity: int) -> bool:
        item = self.items.get(sku)
        if item is None or quantity <= 0:
            return False
        if item.quantity - item.reserved < quantity:
            return False
        item.reserved += quantity
        return True

    def status(self, sku: str) -> str:
        item = self.items.get(sku)
        if item is None:
            return "unknown"
        free = item.quantity - item.reserved
        if free == 0 and item.reserved:
            return "fully reserved"
        if free < 5 or (item.reserved and free < item.reserved):
            return "low"
        return "ok"
