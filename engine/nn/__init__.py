"""Model code only: tensors in, tensors out. Training lives in engine.training."""
