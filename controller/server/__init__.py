"""Network edges: git smart-HTTP (dulwich), the JSON API and webhooks."""
