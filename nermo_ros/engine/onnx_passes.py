"""Rewrites of the exported ONNX graph for consumers stricter than ONNX Runtime.

The adapt graph differentiates through LayerNorm, so the exporter keeps each LayerNorm's
Mean and InvStdDev outputs for the backward pass. ONNX Runtime runs that fused, but
TensorRT's ONNX parser accepts a LayerNormalization with one output only ("Node has more
output tensors than TRT expected"). ``single_output_layer_norms`` keeps the fused
normalisation and computes the two statistics with the primitive ops of the ONNX function
definition instead.
"""

from __future__ import annotations

import numpy as np


def single_output_layer_norms(model_bytes: bytes) -> bytes:
    """The same graph with every LayerNormalization reduced to its first output."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    nodes = []
    for index, node in enumerate(graph.node):
        extra = [name for name in node.output[1:] if name]
        if node.op_type != "LayerNormalization" or not extra:
            nodes.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("axis", -1) != -1:
            raise ValueError(f"LayerNormalization {node.name!r} normalises from axis "
                             f"{attrs['axis']}; only the last axis (-1) is rewritten")
        epsilon = float(attrs.get("epsilon", 1e-5))
        prefix = f"single_ln{index}_"
        axes, eps = prefix + "axes", prefix + "epsilon"
        graph.initializer.extend([numpy_helper.from_array(np.array([-1], dtype=np.int64), axes),
                                  numpy_helper.from_array(np.array(epsilon, dtype=np.float32), eps)])
        x = node.input[0]
        mean = node.output[1] or prefix + "mean"
        inv_std = node.output[2] if len(node.output) > 2 and node.output[2] else prefix + "inv_std"
        nodes += [
            helper.make_node("ReduceMean", [x, axes], [mean], keepdims=1),
            helper.make_node("Sub", [x, mean], [prefix + "centred"]),
            helper.make_node("Mul", [prefix + "centred", prefix + "centred"], [prefix + "squared"]),
            helper.make_node("ReduceMean", [prefix + "squared", axes], [prefix + "var"], keepdims=1),
            helper.make_node("Add", [prefix + "var", eps], [prefix + "var_eps"]),
            helper.make_node("Sqrt", [prefix + "var_eps"], [prefix + "std"]),
            helper.make_node("Reciprocal", [prefix + "std"], [inv_std]),
            helper.make_node("LayerNormalization", list(node.input), [node.output[0]],
                             name=node.name, axis=-1, epsilon=epsilon),
        ]
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    return model.SerializeToString()

