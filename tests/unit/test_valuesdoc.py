"""The chart's values reference (tools/bftools/chartgen/valuesdoc.py): comments found above their keys, and every
key of the reference saying what it does."""

from __future__ import annotations

from bftools.chartgen import valuesdoc

VALUES = """\
# The file's header, apart from the first key by a blank line.

global:
  # The registry.
  # Empty: none.
  imageRegistry: ""
  kafka:
    topic: sales-topic
# Node pools.
nodePools:
  # The first pool.
  - name: dual-role
    # Its roles.
    roles: [controller, broker]
    jvmOptions:
      "-Xms": 512m
# Where it comes from:
#   grafana.com  from the internet
#   oci          from a registry
source: grafana.com
# A peer, e.g.:
# - namespaceSelector: {}
extraFrom: []
"""


def test_a_comment_describes_the_key_right_below_it() -> None:
    assert valuesdoc.comments(VALUES) == {
        "global.imageRegistry": "The registry. Empty: none.",
        "nodePools": "Node pools.",
        "nodePools[]": "The first pool.",
        "nodePools[].roles": "Its roles.",
        "source": "Where it comes from: `grafana.com`: from the internet; `oci`: from a registry;",
        "extraFrom": "A peer, e.g.: `- namespaceSelector: {}`",
    }


def test_a_row_is_one_line_of_a_markdown_table() -> None:
    row = valuesdoc.Row("a.b", "one of `x`, `y`", "`1`", "x | y, or <name>-dlq")
    assert row.markdown() == "| `a.b` | one of `x`, `y` | `1` | x \\| y, or &lt;name&gt;-dlq |"


def test_every_key_of_the_reference_says_what_it_does() -> None:
    rows = [line for line in valuesdoc.reference().splitlines() if line.startswith("| `")]
    assert len(rows) > 150
    undocumented = [row.split(" | ")[0] for row in rows if row.rstrip().endswith("|  |")]
    assert not undocumented, f"give these keys a comment in values.yaml or a description in schemas.py: {undocumented}"
