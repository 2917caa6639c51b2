"""Availability and appointments: the native booking engine and the external booking systems behind one interface."""
