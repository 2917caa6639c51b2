"""Contacts, conversations, messages and the inbound -> agent -> outbound pipeline."""
