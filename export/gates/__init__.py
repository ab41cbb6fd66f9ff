"""Recalibration gates found in any ONNX graph, and ablated into identity.

A *gate* is a broadcast multiply of a feature map by a bounded function of a descriptor of it:
a spatial (or channel) reduction or pooling, a small transform (possibly none), a sigmoid-like
squash, and whatever spreads the result back over the map (SE and its hard-sigmoid form, ECA,
GE-θ⁻/θ, CBAM's channel half, MS-SAR, CMPE-SE, the input-dependent CC blocks).

* :mod:`recalib.export.gates.detect`: :func:`find_gates` on a graph;
* :mod:`recalib.export.gates.scopes`: the module path of each gate, from what torch's dynamo
  exporter writes on each node (``pkg.torch.onnx.name_scopes``);
* :mod:`recalib.export.gates.modules`: a torch module's graph for detection, and its gates bypassed
  in PyTorch (where a gate is a whole module);
* :mod:`recalib.export.gates.select`: which gates to ablate (all, a stage, named ones);
* :mod:`recalib.export.gates.ablate`: each gate's multiply replaced by its feature input, the dead
  branch removed; :mod:`recalib.export.gates.check`: proof that the ablated graph computes
  something else.

One detector serves torch modules and ``.onnx`` files alike: a module is exported first.
"""
