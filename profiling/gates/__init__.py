"""What the gates of any network cost: parameters, multiply-adds and latency, attributed to them.

* :mod:`recalib.profiling.gates.costs`: each gate's parameters and multiply-adds, by module path
  (fvcore, for a PyTorch module) or from the graph (an ``.onnx`` file);
* :mod:`recalib.profiling.gates.inventory`: every gate of a module or file, located and counted
  (what ``recalib gates`` prints);
* :mod:`recalib.profiling.gates.ablation`: a prepared model's gates ablated in each file a runtime
  times (and bypassed in PyTorch where they are whole modules), each ablation checked;
* :mod:`recalib.profiling.gates.audit`: original against ablated, alternated, per runtime
  (:func:`recalib.deploy.bench.compare`), and :mod:`recalib.profiling.gates.report` the audit's
  section on it.
"""
