"""Who is calling: a user acting in one tenant, or a tenant API key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from easyflow.kit.errors import Forbidden
from easyflow.models.tenancy import Role


@dataclass(frozen=True)
class Principal:
    tenant_id: uuid.UUID
    role: Role
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    # Signed in to a tenant that requires two-factor sign-in, without it: may only set it up.
    two_factor_setup_only: bool = False

    def require(self, role: Role) -> None:
        if not self.role.at_least(role):
            raise Forbidden(f"This needs the {role.value} role or higher; you are {self.role.value}.")
