"""The float64 truth's max pool is the ONNX reference implementation's, without its per-pixel loops, and
the specification's (as onnxruntime computes it) where the reference's stride-1 path departs from it."""
from __future__ import annotations

import itertools

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from recalib.export.graph.reference_ops import FAST_OPS


def _pool(dtype: int, **attributes: object):
    node = helper.make_node("MaxPool", ["x"], ["y"], **attributes)
    graph = helper.make_graph([node], "pool", [helper.make_tensor_value_info("x", dtype, None)],
                              [helper.make_tensor_value_info("y", dtype, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def _onnxruntime(model, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


@pytest.mark.parametrize("ceil", [0, 1])
def test_every_window_size_stride_and_padding_gives_the_specifications_values(ceil: int) -> None:
    rng = np.random.default_rng(0)
    for kernel, stride, pads, size in itertools.product((1, 2, 3), (1, 2, 4), ([0] * 4, [1] * 4, [1, 0, 1, 1]),
                                                        (5, 8, 13)):
        if max(pads) >= kernel:
            continue
        model = _pool(TensorProto.FLOAT, kernel_shape=[kernel, kernel], strides=[stride, stride], pads=pads,
                      ceil_mode=ceil)
        x = rng.standard_normal((1, 2, size, size + 1)).astype(np.float32)
        got = ReferenceEvaluator(model, new_ops=FAST_OPS).run(None, {"x": x})[0]
        assert np.array_equal(got, _onnxruntime(model, x)), (kernel, stride, pads, size)
        if stride > 1:  # where the reference loops over pixels, which this kernel replaces
            assert np.array_equal(got, ReferenceEvaluator(model).run(None, {"x": x})[0]), (kernel, stride, pads, size)
