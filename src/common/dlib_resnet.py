"""dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``) run by ONNX Runtime.

PyPI's dlib-bin computes a descriptor in ~160 ms of CPU here (chip included; a generic build);
the same network in ONNX Runtime takes ~20 ms and releases the GIL. The weights are read
from dlib's own file (shipped by ``face-recognition-models``), the graph is rebuilt from the
layers in it, in memory at start-up: no converted file to fetch, store or keep in step.
Descriptors match dlib's to float precision (tests/common/test_dlib_resnet.py).

dlib's file is its serialised ``anet_type`` (dlib's dnn_face_recognition_ex.cpp): layers from
the input outwards, each a name followed by its fields; integers are dlib's variable-length
integers, tensors raw little-endian float32. The residual units (``tag``/``skip`` layers carry
no name) are: a unit's input -> con, affine, relu, con, affine [-> avg_pool of the unit's input]
-> add_prev -> relu; channels or sizes that differ are zero-padded, as dlib's ``add_prev`` does.

:class:`DlibResNet` exposes ``compute_face_descriptor(rgb, shape)`` like dlib's
``face_recognition_model_v1``: the 150-px chip aligned on the 5 landmarks (dlib's own
``get_face_chip``, padding 0.25) and the network on it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from common.logs import log_event

log = logging.getLogger("rollcall.common.dlib_resnet")
Shaped = tuple[str, int, int, int]  # a graph value with its channels, rows and columns
CHIP_SIZE = 150
CHIP_PADDING = 0.25


class DlibFormatError(ValueError):
    """The file is not the dlib network this module knows how to read."""


@dataclass
class Layer:
    """One named layer of the file, with the fields this module uses."""

    kind: str
    params: np.ndarray | None = None
    ints: list[int] = field(default_factory=list)
    floats: list[float] = field(default_factory=list)


class _Reader:
    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = data
        self.pos = offset

    def integer(self) -> int:
        """dlib's integer: a byte (size in the low nibble, 0x80 = negative) then little-endian bytes."""
        head = self.data[self.pos]
        size = head & 0x0F
        if size > 8:
            raise DlibFormatError(f"bad integer at byte {self.pos}")
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if head & 0x80 else value

    def real(self) -> float:
        """dlib's portable float: mantissa and exponent integers."""
        mantissa = self.integer()
        exponent = self.integer()
        return float(mantissa) * 2.0**exponent

    def string(self) -> str:
        size = self.integer()
        text = self.data[self.pos : self.pos + size].decode("ascii")
        self.pos += size
        return text

    def tensor(self) -> np.ndarray:
        version = self.integer()
        if version != 2:
            raise DlibFormatError(f"tensor version {version} at byte {self.pos}")
        dims = [self.integer() for _ in range(4)]
        count = int(np.prod(dims))
        if self.pos + 4 * count > len(self.data):
            raise DlibFormatError(f"tensor of {count} values past the end of the file at byte {self.pos}")
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos).astype(np.float32)
        self.pos += 4 * count
        return values.reshape(dims)


#: The layer names this module reads (each followed in the file by its own fields).
_LAYER_NAMES = ("input_rgb_image_sized", "con_4", "affine_", "relu_", "max_pool_2", "avg_pool_2", "add_prev_", "fc_2")


def read_layers(data: bytes) -> list[Layer]:
    """The named layers of a dlib network file, input first."""
    reader = _Reader(data)
    markers: list[tuple[int, str]] = []
    for name in _LAYER_NAMES:
        needle = bytes([0x01, len(name)]) + name.encode("ascii")
        start = data.find(needle)
        while start >= 0:
            markers.append((start, name))
            start = data.find(needle, start + 1)
    markers.sort()
    layers: list[Layer] = []
    end_of_previous = 0
    for offset, name in markers:
        if offset < end_of_previous:  # bytes inside a tensor read already
            continue
        reader.pos = offset
        reader.string()
        if name == "input_rgb_image_sized":
            layer = Layer("input", floats=[reader.real() for _ in range(3)], ints=[reader.integer()])
        elif name == "con_4":
            params = reader.tensor()
            layer = Layer("con", params=params, ints=[reader.integer() for _ in range(7)])
        elif name == "affine_":
            layer = Layer("affine", params=reader.tensor())
        elif name in ("max_pool_2", "avg_pool_2"):
            layer = Layer(name[:-2], ints=[reader.integer() for _ in range(6)])
        elif name == "fc_2":
            outputs, inputs = reader.integer(), reader.integer()
            layer = Layer("fc", params=reader.tensor(), ints=[outputs, inputs])
        else:
            layer = Layer(name.rstrip("_"))
        end_of_previous = reader.pos
        layers.append(layer)
    if not layers or layers[0].kind != "input" or layers[-1].kind != "fc":
        raise DlibFormatError("not a dlib input_rgb_image_sized ... fc network")
    for before, after in zip(layers, layers[1:], strict=False):
        if before.kind == "con" and after.kind != "affine":
            raise DlibFormatError(f"a con layer followed by {after.kind}, not its affine (batch norm)")
    return layers


def _pool_out(size: int, window: int, stride: int, pad: int) -> int:
    return 1 + (size + 2 * pad - window) // stride


def build_onnx(layers: list[Layer]) -> bytes:
    """An ONNX model (serialised) computing the network: input ``chips`` N x 150 x 150 x 3 RGB
    uint8-valued float32, output ``descriptors`` N x 128."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    inits: list[Any] = []
    counter = iter(range(1_000_000))

    def name(prefix: str) -> str:
        return f"{prefix}_{next(counter)}"

    def const(array: np.ndarray, prefix: str) -> str:
        n = name(prefix)
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), n))
        return n

    def node(op: str, inputs: list[str], **attrs: Any) -> str:
        out = name(op.lower())
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    input_layer = layers[0]
    size = input_layer.ints[0]
    mean = np.array(input_layer.floats, dtype=np.float32).reshape(1, 3, 1, 1)
    x = node("Transpose", ["chips"], perm=[0, 3, 1, 2])
    x = node("Sub", [x, const(mean, "mean")])
    x = node("Mul", [x, const(np.array(1.0 / 256.0, dtype=np.float32), "scale")])
    channels, height, width = 3, size, size
    unit_in = (x, channels, height, width)  # a residual unit's input (dlib's tag1)
    pooled: Shaped | None = None  # avg_pool of the unit's input (residual_down)
    kinds: list[str] = []
    for layer in layers[1:]:
        if layer.kind == "con":
            if kinds[-1:] == ["max_pool"] or kinds[-2:] == ["add_prev", "relu"]:  # a residual unit starts
                unit_in = (x, channels, height, width)
            filters, rows, cols, stride_y, stride_x, pad_y, pad_x = layer.ints
            assert layer.params is not None
            flat = layer.params.reshape(-1)
            per_filter = (flat.size - filters) // filters
            in_channels = per_filter // (rows * cols)
            if in_channels != channels or per_filter * filters + filters != flat.size:
                raise DlibFormatError(f"con of {filters} filters does not fit {channels} input channels")
            weights = flat[: filters * per_filter].reshape(filters, in_channels, rows, cols)
            bias = flat[filters * per_filter :]
            x = node(
                "Conv",
                [x, const(weights, "w"), const(bias, "b")],
                kernel_shape=[rows, cols],
                strides=[stride_y, stride_x],
                pads=[pad_y, pad_x, pad_y, pad_x],
            )
            channels = filters
            height = _pool_out(height, rows, stride_y, pad_y)
            width = _pool_out(width, cols, stride_x, pad_x)
        elif layer.kind == "affine":
            assert layer.params is not None
            flat = layer.params.reshape(-1)
            if flat.size != 2 * channels:
                raise DlibFormatError(f"affine of {flat.size} params after {channels} channels")
            gamma = flat[:channels].reshape(1, channels, 1, 1)
            beta = flat[channels:].reshape(1, channels, 1, 1)
            x = node("Add", [node("Mul", [x, const(gamma, "gamma")]), const(beta, "beta")])
        elif layer.kind == "relu":
            x = node("Relu", [x])
        elif layer.kind in ("max_pool", "avg_pool"):
            rows, cols, stride_y, stride_x, pad_y, pad_x = layer.ints
            if layer.kind == "avg_pool" and rows == 0 and cols == 0:  # avg_pool_everything
                x = node("GlobalAveragePool", [x])
                height = width = 1
            elif layer.kind == "avg_pool":  # residual_down: the pooled unit input, added next
                source, src_channels, src_height, src_width = unit_in
                pooled_name = node(
                    "AveragePool",
                    [source],
                    kernel_shape=[rows, cols],
                    strides=[stride_y, stride_x],
                    pads=[pad_y, pad_x, pad_y, pad_x],
                    count_include_pad=1,
                )
                pooled = (
                    pooled_name,
                    src_channels,
                    _pool_out(src_height, rows, stride_y, pad_y),
                    _pool_out(src_width, cols, stride_x, pad_x),
                )
            else:
                x = node(
                    "MaxPool",
                    [x],
                    kernel_shape=[rows, cols],
                    strides=[stride_y, stride_x],
                    pads=[pad_y, pad_x, pad_y, pad_x],
                )
                height = _pool_out(height, rows, stride_y, pad_y)
                width = _pool_out(width, cols, stride_x, pad_x)
        elif layer.kind == "add_prev":
            other = pooled if pooled is not None else unit_in
            pooled = None
            x, channels, height, width = _add_padded(node, const, (x, channels, height, width), other)
        elif layer.kind == "fc":
            outputs, inputs = layer.ints
            assert layer.params is not None
            matrix = layer.params.reshape(-1)
            if matrix.size != outputs * inputs or inputs != channels:
                raise DlibFormatError(f"fc of {matrix.size} params for {inputs} -> {outputs}")
            x = node("Flatten", [x], axis=1)
            x = node("MatMul", [x, const(matrix.reshape(inputs, outputs), "fc")])
        kinds.append(layer.kind)
    nodes[-1].output[0] = "descriptors"
    graph = helper.make_graph(
        nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info("chips", TensorProto.FLOAT, ["n", size, size, 3])],
        [helper.make_tensor_value_info("descriptors", TensorProto.FLOAT, ["n", layers[-1].ints[0]])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def _add_padded(node: Any, const: Any, a: Shaped, b: Shaped) -> Shaped:
    """``a + b`` as dlib's add_prev: the larger of each dimension, the smaller tensor zero-padded
    at the end of its channels, rows and columns."""
    channels, height, width = max(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])

    def padded(t: Shaped) -> str:
        pads = [0, 0, 0, 0, 0, channels - t[1], height - t[2], width - t[3]]
        if not any(pads):
            return t[0]
        return str(node("Pad", [t[0], const(np.array(pads, dtype=np.int64), "pads")]))

    return str(node("Add", [padded(a), padded(b)])), channels, height, width


_MODEL_CACHE: dict[str, bytes] = {}


def onnx_model(path: Path) -> bytes:
    """The network of dlib's file at ``path`` as a serialised ONNX model (built once per process)."""
    key = str(path)
    if key not in _MODEL_CACHE:
        _MODEL_CACHE[key] = build_onnx(read_layers(Path(path).read_bytes()))
    return _MODEL_CACHE[key]


class DlibResNet:
    """dlib's ``face_recognition_model_v1`` with the network run by ONNX Runtime (``threads`` per
    call; 1 = the least CPU per descriptor). Thread-safe: ONNX Runtime's ``run`` may be called
    from several threads, and it releases the GIL while it computes."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(onnx_model(path), options, providers=["CPUExecutionProvider"])

    def descriptors(self, chips: np.ndarray) -> np.ndarray:
        """N x 128 float32 descriptors of N aligned 150-px RGB chips (N x 150 x 150 x 3)."""
        batch = np.asarray(chips, dtype=np.float32)
        return np.asarray(self.session.run(None, {"chips": batch})[0], dtype=np.float32)

    def compute_face_descriptor(self, rgb: np.ndarray, shape: Any) -> np.ndarray:
        """As dlib's: the descriptor of the face whose 5 landmarks are ``shape`` in ``rgb``."""
        import dlib

        chip = dlib.get_face_chip(rgb, shape, CHIP_SIZE, CHIP_PADDING)
        return self.descriptors(np.asarray(chip)[None])[0]


def face_recognizer(path: Path) -> Any:
    """dlib's ResNet at ``path`` run by ONNX Runtime (:class:`DlibResNet`, ~8x less CPU than
    PyPI's dlib-bin), or dlib's own ``face_recognition_model_v1`` when ONNX Runtime or onnx is
    not installed or the file is not the network this module reads (a warning says so)."""
    try:
        return DlibResNet(path)
    except (ImportError, DlibFormatError, OSError) as exc:
        import dlib

        log_event(
            log,
            "face_recognizer_fallback",
            logging.WARNING,
            path=str(path),
            error=str(exc),
            detail="dlib's ResNet through ONNX Runtime unavailable; using dlib's own (slower)",
        )
        return dlib.face_recognition_model_v1(str(path))
