"""A real OpenLDAP directory for the tests: Debian's slapd with a configuration of its own in a
temporary folder (no debconf, no system service), listening on free loopback ports: plain LDAP
(which offers StartTLS) and LDAPS, with a certificate from a CA made for the session.

The directory holds what a company's would: a service account the registry binds as, people
(inetOrgPerson), groups (groupOfNames) and, with the ppolicy overlay, one locked account, which is
how OpenLDAP disables a person: the directory itself refuses their bind.
"""

import datetime
import ipaddress
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"
BASE = "dc=example,dc=lan"
SERVICE_DN = f"cn=registry,ou=services,{BASE}"
SERVICE_PASSWORD = "service account secret"
MANAGER_DN = f"cn=manager,{BASE}"
MANAGER_PASSWORD = "manager secret"
PEOPLE = f"ou=people,{BASE}"
GROUPS = f"ou=groups,{BASE}"
ADMIN_GROUP = f"cn=registry-admins,{GROUPS}"
PASSWORD = "directory passphrase 1"

CONFIG = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile {root}/slapd.pid
TLSCACertificateFile {root}/ca.pem
TLSCertificateFile {root}/server.pem
TLSCertificateKeyFile {root}/server.key
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy

database mdb
suffix "{base}"
rootdn "{manager}"
rootpw "{manager_password}"
directory {root}/data
maxsize 16777216
overlay ppolicy
ppolicy_default "cn=default,ou=policies,{base}"
# As a company's directory: nobody reads it anonymously; the registry's service account reads it,
# and anyone may bind (authenticate) with a password.
access to attrs=userPassword
    by anonymous auth
    by * none
access to *
    by dn.exact="{service}" read
    by self read
    by * none
"""


def _person(uid: str, given: str, surname: str, extra: str = "") -> str:
    return f"""\
dn: uid={uid},{PEOPLE}
objectClass: inetOrgPerson
uid: {uid}
cn: {given} {surname}
givenName: {given}
sn: {surname}
mail: {uid}@example.lan
userPassword: {PASSWORD}
{extra}"""


def _group(name: str, *members: str) -> str:
    lines = "".join(f"member: uid={member},{PEOPLE}\n" for member in members)
    return f"dn: cn={name},{GROUPS}\nobjectClass: groupOfNames\ncn: {name}\n{lines}"


# dora develops (group "developers"), erin administers the registry (group "registry-admins"),
# gina and hana belong to no group (tests log hana in only while the directory is down, so no
# process remembers her login), frank was disabled (locked by ppolicy; still a developer on paper).
ENTRIES = [
    f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n",
    *(f"dn: ou={ou},{BASE}\nobjectClass: organizationalUnit\nou: {ou}\n" for ou in ("people", "groups", "services")),
    f"dn: ou=policies,{BASE}\nobjectClass: organizationalUnit\nou: policies\n",
    f"dn: cn=default,ou=policies,{BASE}\nobjectClass: device\nobjectClass: pwdPolicy\ncn: default\n"
    "pwdAttribute: userPassword\npwdLockout: TRUE\n",
    f"dn: {SERVICE_DN}\nobjectClass: applicationProcess\nobjectClass: simpleSecurityObject\ncn: registry\n"
    f"userPassword: {SERVICE_PASSWORD}\n",
    _person("dora", "Dora", "Developer"),
    _person("erin", "Erin", "Admin"),
    _person("gina", "Gina", "Nogroup"),
    _person("hana", "Hana", "Nogroup"),
    # 000001010000Z: locked until an administrator unlocks it, ppolicy's "disabled".
    _person("frank", "Frank", "Former", "pwdAccountLockedTime: 000001010000Z\n"),
    _group("developers", "dora", "frank"),
    _group("registry-admins", "erin"),
]


def make_certificate_authority(folder: Path, name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A CA (its certificate written to folder/ca.pem) that signs the directory's certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ca.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key, certificate


def _make_server_certificate(root: Path) -> None:
    ca_key, ca = make_certificate_authority(root, "Test directory CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(ca_key, hashes.SHA256())
    )
    (root / "server.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (root / "server.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def free_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return int(listener.getsockname()[1])


@dataclass
class Directory:
    root: Path
    port: int = 0
    tls_port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_uri(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}"

    @property
    def ca_file(self) -> Path:
        """The CA that signed the directory's certificate."""
        return self.root / "ca.pem"

    def environment(self) -> dict[str, str]:
        """The registry's configuration for this directory, as an operator would write it."""
        return {
            "REGISTRY_LDAP_URI": self.uri,
            "REGISTRY_LDAP_BIND_DN": SERVICE_DN,
            "REGISTRY_LDAP_BIND_PASSWORD": SERVICE_PASSWORD,
            "REGISTRY_LDAP_USER_SEARCH_BASE": PEOPLE,
            "REGISTRY_LDAP_USER_FILTER": "(&(objectClass=inetOrgPerson)(uid=%(user)s))",
            "REGISTRY_LDAP_GROUP_SEARCH_BASE": GROUPS,
            "REGISTRY_LDAP_GROUP_FILTER": "(objectClass=groupOfNames)",
            "REGISTRY_LDAP_GROUP_TYPE": "groupOfNames",
            "REGISTRY_LDAP_ADMIN_GROUP": ADMIN_GROUP,
            "REGISTRY_LDAP_TIMEOUT": "2",
        }

    def load(self) -> None:
        (self.root / "data").mkdir(parents=True)
        _make_server_certificate(self.root)
        config = self.root / "slapd.conf"
        config.write_text(
            CONFIG.format(
                root=self.root, base=BASE, service=SERVICE_DN, manager=MANAGER_DN, manager_password=MANAGER_PASSWORD
            )
        )
        entries = self.root / "directory.ldif"
        entries.write_text("\n".join(ENTRIES))
        subprocess.run([SLAPADD, "-q", "-f", str(config), "-l", str(entries)], check=True, capture_output=True)

    def start(self) -> None:
        self.port = self.port or free_port()
        self.tls_port = self.tls_port or free_port()
        # -d 0: stay in the foreground (no fork), so the test owns the process and its end.
        self.process = subprocess.Popen(
            [SLAPD, "-d", "0", "-f", str(self.root / "slapd.conf"), "-h", f"{self.uri}/ {self.ldaps_uri}/"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"slapd exited with {self.process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("slapd did not listen within 15 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def modify(self, ldif: str) -> None:
        """Change the directory as its administrator would, with ldapmodify."""
        subprocess.run(
            ["ldapmodify", "-x", "-H", self.uri, "-D", MANAGER_DN, "-w", MANAGER_PASSWORD],
            input=ldif.encode(),
            check=True,
            capture_output=True,
        )

    def add_person(self, uid: str) -> str:
        """A person with PASSWORD and no group, added as a directory administrator would; the DN."""
        dn = f"uid={uid},{PEOPLE}"
        self.modify(
            f"dn: {dn}\nchangetype: add\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\n"
            f"userPassword: {PASSWORD}\n"
        )
        return dn

    def remove(self, dn: str) -> None:
        self.modify(f"dn: {dn}\nchangetype: delete\n")

    @contextmanager
    def locked(self, uid: str) -> Iterator[None]:
        """A person disabled (ppolicy's permanent lock) for a while, then enabled again."""
        dn = f"uid={uid},{PEOPLE}"
        self.modify(f"dn: {dn}\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n")
        try:
            yield
        finally:
            self.modify(f"dn: {dn}\nchangetype: modify\ndelete: pwdAccountLockedTime\n")

    @contextmanager
    def stopped(self) -> Iterator[None]:
        """The directory down for a while, then back on the same port."""
        self.stop()
        try:
            yield
        finally:
            self.start()


@contextmanager
def running_directory(root: Path) -> Iterator[Directory]:
    directory = Directory(root)
    directory.load()
    directory.start()
    try:
        yield directory
    finally:
        directory.stop()
