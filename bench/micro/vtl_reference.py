"""The reference pair of mapping templates (issue 16) that the VTL benchmarks and tests share:
a 10-line request template over a 1 KB JSON body ($input.path, #foreach,
$util.escapeJavaScript, $context values) and a response template looping over 10 items with
an #if."""

from __future__ import annotations

import orjson

REQUEST_TEMPLATE = (
    "#set($order = $input.path('$'))\n"
    "{\n"
    '  "orderId": "$util.escapeJavaScript($order.id)",\n'
    '  "customer": "$util.escapeJavaScript($input.path(\'$.customer.name\'))",\n'
    '  "requestId": "$context.requestId",\n'
    '  "stage": "$context.stage",\n'
    '  "sourceIp": "$context.identity.sourceIp",\n'
    '  "items": [#foreach($item in $order.items){"sku": "$item.sku", "qty": $item.qty}'
    "#if($foreach.hasNext),#end#end]\n"
    "}\n"
)

REQUEST_BODY = orjson.dumps({
    "id": "ord-7f3a9c21",
    "customer": {
        "name": "Zoë Byrne",
        "email": "zoe.byrne@example.com",
        "address": {"street": "12 Harbour Road", "city": "Cork", "zip": "T12 X5Y0",
                    "country": "IE"},
    },
    "items": [
        {"sku": f"SKU-{i:04d}", "name": f"Widget number {i}", "qty": i % 4 + 1,
         "price": 9.99 + i, "tags": ["blue", "large"]}
        for i in range(8)
    ],
    "notes": "Leave at the door, please.",
}).decode()

RESPONSE_TEMPLATE = (
    "#set($root = $input.path('$'))\n"
    "{\n"
    '  "count": $root.results.size(),\n'
    '  "results": [\n'
    "#foreach($r in $root.results)\n"
    '    {"id": "$r.id", "name": "$util.escapeJavaScript($r.name)", '
    '"status": #if($r.active)"active"#{else}"inactive"#end}#if($foreach.hasNext),#end\n'
    "#end\n"
    "  ]\n"
    "}\n"
)

RESPONSE_BODY = orjson.dumps({
    "results": [
        {"id": i, "name": f"Result \"{i}\"", "active": i % 3 != 0, "score": i * 1.5}
        for i in range(10)
    ],
    "next": None,
}).decode()

CONTEXT = {
    "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    "stage": "prod",
    "identity": {"sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
}
