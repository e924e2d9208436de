runbook "restore mistake" {} # ERROR: Invalid runbook name
