"""Policy: the rules attached to API keys (models, request rates, token budgets, no-store)."""
