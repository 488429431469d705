"""Test support: certificates made with the openssl command for TLS tests on loopback."""

import datetime
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


# ---- a small PKI made with `openssl ca`, for certificates with chosen validity and names ----------------------

def _san(hosts):
    return ",".join(("IP:" if h.replace(".", "").isdigit() or ":" in h else "DNS:") + h for h in hosts)


def _openssl(args, cwd=None):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed (%d):\n%s%s" % (args[0], r.returncode, r.stdout, r.stderr))
    return r


def _asn1_time(when):
    """openssl ca's -startdate/-enddate form (GeneralizedTime, UTC) of an aware or naive-UTC datetime."""
    return when.strftime("%Y%m%d%H%M%SZ")


class CertAuthority:
    """A CA (root or intermediate) that issues certificates with `openssl ca`: cert and key are PEM paths."""

    def __init__(self, tmpdir, name, cert, key):
        self.tmpdir = tmpdir
        self.name = name
        self.cert = cert
        self.key = key
        self._issued = 0

    def issue(self, name, hosts=("127.0.0.1", "localhost"), not_before=None, not_after=None, days=30, cn=None,
              is_ca=False):
        """Issues a certificate for hosts (subjectAltName; CN = cn or hosts[0]) valid from not_before to
        not_after (datetimes, UTC; default: an hour ago to `days` from now). Returns (cert_path, key_path).
        With is_ca the result can sign others (see CertAuthority.intermediate)."""
        now = datetime.datetime.now(datetime.timezone.utc)
        not_before = not_before or now - datetime.timedelta(hours=1)
        not_after = not_after or now + datetime.timedelta(days=days)
        self._issued += 1
        work = os.path.join(self.tmpdir, "%s-ca-%s-%d" % (self.name, name, self._issued))
        os.makedirs(work, exist_ok=True)
        cert = os.path.join(self.tmpdir, name + ".crt")
        key = os.path.join(self.tmpdir, name + ".key")
        csr = os.path.join(work, "req.csr")
        subject = "/CN=%s" % (cn or hosts[0])
        _openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", subject])
        if is_ca:
            ext = "basicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
        else:
            ext = ("basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\n"
                   "extendedKeyUsage = serverAuth\n")
            if hosts:
                ext += "subjectAltName = %s\n" % _san(hosts)
        with open(os.path.join(work, "index.txt"), "w"):
            pass
        with open(os.path.join(work, "ca.cnf"), "w") as f:
            f.write("[ ca ]\ndefault_ca = the_ca\n[ the_ca ]\ndatabase = index.txt\nnew_certs_dir = .\n"
                    "serial = serial\ndefault_md = sha256\npolicy = any\ncopy_extensions = none\n"
                    "unique_subject = no\nx509_extensions = ext\n[ any ]\ncommonName = supplied\n[ ext ]\n" + ext)
        _openssl(["ca", "-batch", "-config", "ca.cnf", "-rand_serial", "-notext", "-cert", self.cert, "-keyfile",
                  self.key, "-in", csr, "-out", cert, "-startdate", _asn1_time(not_before), "-enddate",
                  _asn1_time(not_after)], cwd=work)
        return cert, key

    def intermediate(self, name, cn=None):
        """A CA signed by this one."""
        cert, key = self.issue(name, hosts=(), cn=cn or ("OB Test Intermediate " + name), is_ca=True)
        return CertAuthority(self.tmpdir, name, cert, key)


def make_ca(tmpdir, name="ca", cn="OB Test Root CA", days=30):
    """A self-signed root CA in tmpdir: a CertAuthority (its .cert is what http.ca_file should name)."""
    cert = os.path.join(tmpdir, name + ".crt")
    key = os.path.join(tmpdir, name + ".key")
    _openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", str(days),
              "-subj", "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    return CertAuthority(tmpdir, name, cert, key)


def concat_pem(path, *pems):
    """Writes the PEM files pems one after the other into path (a chain: leaf first); returns path."""
    with open(path, "w") as out:
        for p in pems:
            with open(p) as f:
                text = f.read()
            out.write(text if text.endswith("\n") else text + "\n")
    return path
