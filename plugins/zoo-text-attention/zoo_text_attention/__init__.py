"""keras-torch-zoo plugin adding ``text_attention`` and the porting rule for its custom layer."""

__version__ = "0.1.0"
