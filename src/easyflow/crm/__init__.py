"""The CRM: contacts' profiles, pipelines and deals, the rules that move them, tasks, partners, and imports of
the chat history a business already has."""
