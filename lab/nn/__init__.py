"""Networks only training needs (tensors in, tensors out). What inference runs stays in
``engine.nn``; these are exported to ONNX (``export_onnx``) before the engine sees them."""
