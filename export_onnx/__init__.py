"""Thin export scripts: a checkpoint in, verified ONNX graphs out."""
