"""Every ORM model, imported here so metadata is complete wherever models are used."""

from easyflow.models.tenancy import ApiKey, Membership, RefreshToken, Role, Tenant, User

__all__ = ["ApiKey", "Membership", "RefreshToken", "Role", "Tenant", "User"]
