"""appliance: train and ship a DeepSeek-style language model on an air-gapped host."""

__version__ = "0.1.0"
