"""The fault suite (issue 13): seeded conversations through the real handlers with faults
injected into the model and the AWS clients, invariants checked after every step.
``python -m tests.faults --help``; ``make faults``."""
