"""Resources: idsets, hostlists, R (Rv1), local discovery and the inventory service."""
