"""A shop's insight reports, as pure functions of its customers' records (`records.CustomerRecord`):
retention measures by month (`measures`), cohorts (`cohorts`) and RFM segments (`rfm`). Each report
is a frozen dataclass with `to_dict()` (its JSON form), for the CLI and the HTML report to show."""
