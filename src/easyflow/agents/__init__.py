"""Assistants, the agent runtime, the offline answerer and LLM providers."""
