"""YCLIENTS/Altegio behind the BookingBackend interface: `YclientsBackend`, built for a tenant's stored connection
by `yclients_backend(runtime, connection)` (register it with the backend registry under `KIND`)."""

from easyflow.booking.yclients.backend import KIND, YclientsBackend, yclients_backend

__all__ = ["KIND", "YclientsBackend", "yclients_backend"]
