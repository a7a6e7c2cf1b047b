"""Tests of funcnn.data, one module per module of the package."""
