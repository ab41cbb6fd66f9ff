"""Static post-training int8 quantisation of an exported graph, through onnxruntime's quantisation tools.

The exported float32 graph becomes a QDQ graph (QuantizeLinear/DequantizeLinear pairs around each
quantised operator): onnxruntime runs it with int8 kernels (VNNI where the CPU has it), OpenVINO's
CPU plugin reads the same pairs as int8 (its low-precision transformations), and TensorRT 11, which
builds strongly typed networks only, takes it as its int8 form.

* :mod:`recalib.export.quantize.calibration`: the images the activation ranges are measured on
  (``digits``, an ``.npz``, or random inputs named as such), checked before any work, and the
  reader that feeds them to onnxruntime's calibrator;
* :mod:`recalib.export.quantize.recipe`: the recipe (int8 weights per output channel, uint8
  activations, ranges by the calibration method) and which nodes stay in float (the gates, when asked);
* :mod:`recalib.export.quantize.placement`: per gate, which of its nodes run quantised and which in
  float, read from the quantised graph itself.
"""
