"""Sending to FX exactly once: what to do with each document, the send loop, FX's answers traced back."""
