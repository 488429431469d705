"""Test support: certificates made with the openssl command for TLS tests on loopback."""

import os
import subprocess


def make_self_signed(tmpdir, name="server", hosts=("127.0.0.1", "localhost"), days=30):
    """A self-signed server certificate and key for hosts: (cert_path, key_path). The certificate is its
    own CA, so an agent trusts it with http.ca_file = cert_path."""
    cert = os.path.join(tmpdir, name + ".crt")
    key = os.path.join(tmpdir, name + ".key")
    san = ",".join(("IP:" if h.replace(".", "").isdigit() or ":" in h else "DNS:") + h for h in hosts)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", str(days), "-subj", "/CN=%s" % hosts[0], "-addext", "subjectAltName=" + san,
                    "-addext", "basicConstraints=critical,CA:TRUE"],
                   check=True, capture_output=True, timeout=60)
    return cert, key
