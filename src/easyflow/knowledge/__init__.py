"""The tenant's knowledge: documents, chunks and search."""
