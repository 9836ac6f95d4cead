"""Tests against the local AWS emulator endpoint (127.0.0.1:4566); see localstack/."""
