from demo_app.inventory import Inventory


def test_reserve_more_than_free_is_refused():
    inv = Inventory()
    inv.add("apple", 3)
    assert not inv.reserve("apple", 4)
