"""Bounds on one template and one render, so that no template or body can hang the gateway or
exhaust its memory. The first two are AWS's (spec 10.3); the rest are Sluice's, chosen far
above what real mapping templates use."""

from __future__ import annotations

MAX_TEMPLATE_BYTES = 300 * 1024  # AWS: mapping template size 300 KB
MAX_FOREACH = 1000  # AWS: #foreach iterations; Velocity's directive.foreach.maxloops stops
# the loop there without an error
MAX_STEPS = 200_000  # loop iterations plus macro calls in one render
MAX_MACRO_DEPTH = 20  # Velocity's velocimacro.max.depth default
MAX_OUTPUT = 10 * 1024 * 1024  # characters; AWS's payload limit is 10 MB
MAX_STRING = MAX_OUTPUT  # one string value built by the template
MAX_COLLECTION = 100_000  # elements in a list or map the template builds or grows
MAX_NESTING = 64  # depth of nested lists and maps when printed
MAX_INT_BITS = 4096  # integer results beyond this fail (Java would need a BigInteger)
