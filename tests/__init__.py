"""funcnn test suite; subpackages mirror the modules of funcnn."""
