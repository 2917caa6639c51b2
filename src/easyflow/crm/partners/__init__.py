"""Partners the business hands clients to, and the transfers of deals to them."""
