"""The reference pair of mapping templates (issue 16) that the VTL benchmarks and tests share:
a 10-line request template over a 1 KB JSON body ($input.path, #foreach,
$util.escapeJavaScript, $context values) and a response template looping over 10 items with
an #if."""

from __future__ import annotations

import orjson

REQUEST_TEMPLATE = """\
#set($order = $input.path('$'))
{
  "orderId": "$util.escapeJavaScript($order.id)",
  "customer": "$util.escapeJavaScript($input.path('$.customer.name'))",
  "requestId": "$context.requestId",
  "stage": "$context.stage",
  "sourceIp": "$context.identity.sourceIp",
  "items": [#foreach($item in $order.items){"sku": "$item.sku", "qty": $item.qty}#if($foreach.hasNext),#end#end]
}
"""

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

RESPONSE_TEMPLATE = """\
#set($root = $input.path('$'))
{
  "count": $root.results.size(),
  "results": [
#foreach($r in $root.results)
    {"id": "$r.id", "name": "$util.escapeJavaScript($r.name)", "status": #if($r.active)"active"#{else}"inactive"#end}#if($foreach.hasNext),#end
#end
  ]
}
"""

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
