"""Rule model x data -> violations: readers, calendar, engines."""
