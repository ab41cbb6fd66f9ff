"""ONNX-to-ONNX passes: exact rewrites applied to a graph, whoever exported it.

:mod:`~recalib.export.graph.rewrite` is what one rewrite is (a class that looks at one node and
fires, declines with its reason, or passes); :mod:`~recalib.export.graph.passes` runs a list of
them over a graph and reports what fired and what was left as it was;
:mod:`~recalib.export.graph.edit` holds the graph reading and editing every rewrite shares;
:mod:`~recalib.export.graph.truth` is the float64 truth of a graph that a rewritten graph is judged
against. The rewrites themselves live in :mod:`recalib.export.rewrites`, listed once in
:mod:`recalib.export.optimize`.
"""
