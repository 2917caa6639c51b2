"""The catalogue: services (with their duration and price), staff, resources and products."""
