"""The first order's channel from the platforms' own fields, through their adapters."""

from comeback.domain.profile import delta
from comeback.platforms import shopify, woocommerce
from tests.unit.test_adapters import load, parsed, shopify_headers, woo_headers


def test_shopifys_source_name_and_woocommerces_created_via_are_the_channel():
    order, _ = parsed(
        shopify.to_events(shopify_headers("orders/create"), load("shopify_orders_create_sample_legacy.json"))
    )
    assert delta(order, "s", "c").first_order["v"]["channel"] == "web"
    (woo,) = [
        e
        for e in parsed(
            woocommerce.to_events(woo_headers("order.created"), load("woocommerce_order_v3_sample.json"))
        )
        if e.type == "order.placed"
    ]
    assert delta(woo, "s", "c").first_order["v"]["channel"] == "rest-api"
