//! pcap I/O backend (in progress)
