#!/usr/bin/env python3
"""Lab test tool: a node's TCP and UDP echo server (IPv6 and IPv4), answering with its node name.

TCP: every chunk received is sent back prefixed once per connection with "n<node>:" (the
first reply of a connection) so the client learns which node holds the connection.
UDP: every datagram is answered with "n<node>: len=<bytes> sha256=<hex>" so a client that
sent a datagram larger than the path MTU learns that it arrived whole (reassembled) and where.
One log line per event on stdout.
"""
import hashlib
import selectors
import socket
import sys

def main():
    node, port = sys.argv[1], int(sys.argv[2])
    sel = selectors.DefaultSelector()
    udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    udp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    udp.bind(("::", port))
    tcp = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    tcp.bind(("::", port))
    tcp.listen(64)
    sel.register(udp, selectors.EVENT_READ, "udp")
    sel.register(tcp, selectors.EVENT_READ, "listen")
    print(f"node={node} event=listening port={port}", flush=True)
    while True:
        for key, _ in sel.select(timeout=1.0):
            if key.data == "udp":
                data, peer = udp.recvfrom(65535)
                digest = hashlib.sha256(data).hexdigest()
                print(f"node={node} event=udp peer=[{peer[0]}]:{peer[1]} bytes={len(data)}", flush=True)
                udp.sendto(f"n{node}: len={len(data)} sha256={digest}".encode(), peer)
            elif key.data == "listen":
                conn, peer = tcp.accept()
                conn.setblocking(False)
                print(f"node={node} event=tcp_open peer=[{peer[0]}]:{peer[1]}", flush=True)
                sel.register(conn, selectors.EVENT_READ, ["conn", peer, 0])
            else:
                conn, state = key.fileobj, key.data
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    print(f"node={node} event=tcp_close peer=[{state[1][0]}]:{state[1][1]} bytes={state[2]}", flush=True)
                    sel.unregister(conn)
                    conn.close()
                    continue
                reply = (f"n{node}:".encode() if state[2] == 0 else b"") + data
                state[2] += len(data)
                conn.setblocking(True)
                conn.sendall(reply)
                conn.setblocking(False)

if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
