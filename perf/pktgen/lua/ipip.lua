-- cidlb profile `ipip`: reserved: IP-in-IP forwarding is not implemented in cidlb yet; this script is a placeholder.
printf("ipip: not implemented in cidlb yet; nothing to run\n")
