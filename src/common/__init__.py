"""Shared code for every Rollcall tier: wire protocol, transport, config, logging, metrics."""
