#!/usr/bin/env python3
"""Lab test tool: path MTU discovery through the balancer.

  pmtu.py server PORT NODE                    TCP (IPv4 and IPv6): every connection asks
                                              "GET <bytes>\\n" and gets that many bytes, then EOF
  pmtu.py fetch HOST PORT BYTES TIMEOUT       fetch BYTES; exit 1 unless all arrive within
                                              TIMEOUT seconds (a broken PMTU discovery stalls)
  pmtu.py toobig HOST PORT SIZE TIMEOUT       send SIZE-byte IP datagrams (UDP, DF / no
                                              fragmentation) until the kernel's path MTU toward
                                              HOST drops below SIZE; print it (exit 1 if never)

The server sends with the kernel's defaults: DF set, segments as large as the MSS the client
announced allows. One log line per event on stdout. Test tooling, not part of cidlb.
"""
import hashlib
import socket
import struct
import sys
import threading
import time

IP_MTU_DISCOVER, IP_PMTUDISC_DO, IP_MTU = 10, 2, 14
IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO, IPV6_MTU = 23, 2, 24


def pattern(n):
    block = bytes(range(256)) * 64
    out = bytearray()
    while len(out) < n:
        out += block
    return bytes(out[:n])


def server(port, node):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(16)
    print(f"node={node} event=listening port={port}", flush=True)

    def serve(conn, peer):
        try:
            conn.settimeout(30)
            request = b""
            while not request.endswith(b"\n") and len(request) < 64:
                chunk = conn.recv(64)
                if not chunk:
                    return
                request += chunk
            size = min(int(request.split()[1]), 16 << 20)
            start = time.monotonic()
            conn.sendall(pattern(size))
            conn.shutdown(socket.SHUT_WR)
            mss = conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
            print(f"node={node} event=sent peer=[{peer[0]}]:{peer[1]} bytes={size} mss_now={mss} "
                  f"seconds={time.monotonic() - start:.2f}", flush=True)
        except (OSError, ValueError, IndexError) as e:
            print(f"node={node} event=error peer=[{peer[0]}]:{peer[1]} error={e}", flush=True)
        finally:
            conn.close()

    while True:
        conn, peer = s.accept()
        threading.Thread(target=serve, args=(conn, peer), daemon=True).start()


def abort(s):
    """Close with a reset: the server's connection ends now instead of retransmitting on."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def fetch(host, port, size, timeout):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    start = time.monotonic()
    deadline = start + timeout
    got = 0
    digest = hashlib.sha256()
    try:
        s.connect((host, port))
        s.sendall(f"GET {size}\n".encode())
        while time.monotonic() < deadline:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            chunk = s.recv(65536)
            if not chunk:
                break
            got += len(chunk)
            digest.update(chunk)
    except OSError as e:
        print(f"event=error host={host} error={e} bytes={got} seconds={time.monotonic() - start:.2f}", flush=True)
        abort(s)
        return 1
    ok = got == size and digest.hexdigest() == hashlib.sha256(pattern(size)).hexdigest()
    if not ok:
        abort(s)
    print(f"event=result host={host} port={port} bytes={got} of={size} intact={ok} "
          f"seconds={time.monotonic() - start:.2f}", flush=True)
    return 0 if ok else 1


def toobig(host, port, size, timeout):
    v6 = ":" in host
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    if v6:
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO)
    else:
        s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
    s.connect((host, port))
    header = (40 if v6 else 20) + 8
    payload = b"\x00" * (size - header)

    def path_mtu():
        return s.getsockopt(socket.IPPROTO_IPV6, IPV6_MTU) if v6 else s.getsockopt(socket.IPPROTO_IP, IP_MTU)

    start = time.monotonic()
    print(f"event=start host={host} size={size} path_mtu={path_mtu()}", flush=True)
    sent = 0
    for _ in range(int(timeout / 0.2) + 1):
        try:
            s.send(payload)
            sent += 1
        except OSError as e:
            # EMSGSIZE: the kernel already knows the datagram does not fit.
            print(f"event=send_refused error={e.strerror}", flush=True)
        try:
            s.recv(2048, socket.MSG_DONTWAIT)  # a queued ICMP error shows up here first on a connected socket
        except OSError:
            pass
        mtu = path_mtu()
        if mtu < size:
            print(f"event=result host={host} path_mtu={mtu} sent={sent} seconds={time.monotonic() - start:.2f}", flush=True)
            return 0
        time.sleep(0.2)
    print(f"event=result host={host} path_mtu={path_mtu()} sent={sent} (never lowered)", flush=True)
    return 1


def main():
    a = sys.argv[1:]
    if len(a) >= 3 and a[0] == "server":
        server(int(a[1]), a[2])
    elif len(a) >= 5 and a[0] == "fetch":
        return fetch(a[1], int(a[2]), int(a[3]), float(a[4]))
    elif len(a) >= 5 and a[0] == "toobig":
        return toobig(a[1], int(a[2]), int(a[3]), float(a[4]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
