"""Email: templates and rendering, the exactly-once sender, SES feedback, the preference centre."""
