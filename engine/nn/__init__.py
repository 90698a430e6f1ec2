"""Model code that inference runs: tensors in, tensors out. Training, and the networks only
training needs, live in the lab (``lab``)."""
