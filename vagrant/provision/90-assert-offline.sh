#!/bin/sh
# Fail the run if the guest can reach anything: TCP to public addresses, DNS over UDP, name resolution.
set -u
fail=0
try() {  # try DESCRIPTION PYTHON-CODE: the code must raise (timeout or refusal) for the check to pass
    if python3 -I -c "$2" >/dev/null 2>&1; then echo "FAIL: $1 succeeded"; fail=1; else echo "ok: $1 fails"; fi
}
try "TCP 1.1.1.1:443" "import socket; socket.create_connection(('1.1.1.1', 443), timeout=5)"
try "TCP 9.9.9.9:443" "import socket; socket.create_connection(('9.9.9.9', 443), timeout=5)"
try "DNS query to 8.8.8.8:53" "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5); s.sendto(bytes.fromhex('123401000001000000000000076578616d706c65036f72670000010001'), ('8.8.8.8', 53)); s.recv(512)"
try "resolve example.org" "import socket; socket.getaddrinfo('example.org', 443)"
if getent hosts example.com >/dev/null 2>&1; then echo "FAIL: getent resolves example.com"; fail=1; else echo "ok: getent example.com fails"; fi
if ip route show default | grep -q .; then echo "FAIL: a default route exists"; fail=1; else echo "ok: no default route"; fi
exit $fail
