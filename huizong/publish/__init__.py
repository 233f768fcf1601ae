"""Publishing: roll-up, reporting rate, view model, CSVs, workbooks, page, feedback, template."""
