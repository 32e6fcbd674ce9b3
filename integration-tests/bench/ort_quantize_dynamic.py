"""ONNX Runtime's dynamic int8 weight quantization of one model, as its users run it: the baseline of local-vs-ort.sh.

usage: python ort_quantize_dynamic.py MODEL.onnx OUT.onnx
"""
import sys

from onnxruntime.quantization import QuantType, quantize_dynamic

quantize_dynamic(sys.argv[1], sys.argv[2], weight_type=QuantType.QInt8, per_channel=True)
