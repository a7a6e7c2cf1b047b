"""Tests of funcnn.backprop."""
