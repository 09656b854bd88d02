"""Part of the jobtui user interface."""
