"""The webhooks service: notices delivered to URLs, signed, retried, every attempt kept."""
