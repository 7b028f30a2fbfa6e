"""Named load scenarios, their runner and result reports."""
