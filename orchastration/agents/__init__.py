"""Agents and orchestrations: the agent protocol, built-in and command agents, and the doit pipeline."""
