"""torch.onnx for baby: export a model to ONNX (`export`) and run an ONNX graph with baby's ops (`load`).

`import baby.onnx` needs nothing beyond baby; `export` and `load` need the onnx package (the `baby[onnx]`
extra) and say so in one line when it is missing.
"""

from .export import OPSETS, ONNXProgram, TrainingMode, export, is_in_onnx_export
from .graph import OnnxExporterError
from .load import load

__all__ = ["ONNXProgram", "OPSETS", "OnnxExporterError", "TrainingMode", "export", "is_in_onnx_export",
           "load"]
