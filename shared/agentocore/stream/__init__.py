"""Streaming a run: typed run events, ConverseStream assembly, text that survives retries."""
