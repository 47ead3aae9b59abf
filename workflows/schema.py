"""Zeek log schemas as data: column names and Zeek types, never inferred from records.

Zeek leaves unset optional fields out of a JSON record, so the first record of a log says nothing reliable
about the columns; the column list and each column's type come from this table instead.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .types import Kind, ZeekType, element_type, kind_of, scalar_type

__all__ = ["Column", "Kind", "LogSchema", "element_type", "get_schema", "kind_of"]


@dataclass(frozen=True)
class Column:
    """One output column: its name as Zeek writes it and its Zeek type (``count``, ``set[string]``...)."""

    name: str
    zeek_type: str

    # Cached: the checks of sets and vectors ask for them once a value.
    @functools.cached_property
    def kind(self) -> Kind:
        return kind_of(self.zeek_type)

    @functools.cached_property
    def element_kind(self) -> Kind | None:
        """The kind of a set's or vector's elements; None for scalar columns."""
        if self.kind is not Kind.LIST:
            return None
        return kind_of(element_type(self.zeek_type))

    @functools.cached_property
    def scalar(self) -> ZeekType:
        """The rules of the column's values: its own type, or a set's or vector's element type."""
        return scalar_type(element_type(self.zeek_type) or self.zeek_type)


@dataclass(frozen=True)
class LogSchema:
    """A log type: default columns in Zeek's order, plus optional columns that policy scripts add."""

    name: str
    columns: tuple[Column, ...]
    optional: tuple[Column, ...] = ()
    source: str = ""

    def known(self) -> dict[str, Column]:
        """Every column a user may ask for by name: extensions, defaults and optional columns."""
        known = {c.name: c for c in LOG_EXTENSIONS}
        known.update((c.name, c) for c in self.columns)
        known.update((c.name, c) for c in self.optional)
        return known

    def select(self, names: list[str] | None, extra: dict[str, Column] | None = None) -> tuple[Column, ...]:
        """The output columns for ``--columns`` (None means the default columns). ``extra`` adds columns
        that the inputs' own headers declare (TSV ``#fields``/``#types``), for names the schema lacks."""
        if names is None:
            return self.columns
        known = {**(extra or {}), **self.known()}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(
                f"unknown column(s) for {self.name} log: {', '.join(unknown)}; "
                f"known columns: {', '.join(known)}"
            )
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"column(s) named more than once: {', '.join(duplicated)}")
        if not names:
            raise ValueError("--columns needs at least one column")
        return tuple(known[n] for n in names)


def _cols(spec: str) -> tuple[Column, ...]:
    """Parse ``"name:type name:type ..."`` (types may contain no spaces)."""
    return tuple(Column(*item.split(":", 1)) for item in spec.split())


# Keys that Zeek's log extension mechanism (and corelight/json-streaming-logs) put before ``ts``.
LOG_EXTENSIONS = _cols("_path:string _write_ts:time _node_name:string _system_name:string")

CONN = LogSchema(
    name="conn",
    source="zeek/scripts/base/protocols/conn/main.zeek (Zeek 6.0 - 8.x); ip_proto since 7.1",
    columns=_cols(
        """
        ts:time uid:string id.orig_h:addr id.orig_p:port id.resp_h:addr id.resp_p:port proto:enum
        service:string duration:interval orig_bytes:count resp_bytes:count conn_state:string
        local_orig:bool local_resp:bool missed_bytes:count history:string orig_pkts:count
        orig_ip_bytes:count resp_pkts:count resp_ip_bytes:count tunnel_parents:set[string] ip_proto:count
        """
    ),
    optional=_cols(
        """
        id.ctx.vlan:int id.ctx.inner_vlan:int orig_l2_addr:string resp_l2_addr:string vlan:int
        inner_vlan:int speculative_service:string community_id:string ip_proto_name:string
        failed_service:set[string] pppoe_session_id:count
        """
    ),
)

# The connection 4-tuple every log with a ``conn_id`` column writes, and the 8.0+ context fields that the
# conn_key policy scripts (``policy/frameworks/conn_key/vlan_fivetuple.zeek``) add to it.
_CONN_ID = "id.orig_h:addr id.orig_p:port id.resp_h:addr id.resp_p:port"
_CONN_ID_CTX = "id.ctx.vlan:int id.ctx.inner_vlan:int"

DNS = LogSchema(
    name="dns",
    source="zeek/scripts/base/protocols/dns/main.zeek (Zeek 6.0 - 8.x); auth/addl from "
    "policy/protocols/dns/auth-addl.zeek; original_query from policy/protocols/dns/log-original-query.zeek",
    columns=_cols(
        f"""
        ts:time uid:string {_CONN_ID} proto:enum trans_id:count rtt:interval query:string qclass:count
        qclass_name:string qtype:count qtype_name:string rcode:count rcode_name:string AA:bool TC:bool RD:bool
        RA:bool Z:count answers:vector[string] TTLs:vector[interval] rejected:bool
        """
    ),
    optional=_cols(f"{_CONN_ID_CTX} auth:set[string] addl:set[string] original_query:string"),
)

HTTP = LogSchema(
    name="http",
    source="zeek/scripts/base/protocols/http/main.zeek and entities.zeek (Zeek 6.0 - 8.x); header names from "
    "policy/protocols/http/header-names.zeek; cookie_vars/uri_vars from var-extraction-cookies/-uri.zeek",
    columns=_cols(
        f"""
        ts:time uid:string {_CONN_ID} trans_depth:count method:string host:string uri:string
        referrer:string version:string user_agent:string origin:string request_body_len:count
        response_body_len:count status_code:count status_msg:string info_code:count info_msg:string
        tags:set[enum] username:string password:string proxied:set[string] orig_fuids:vector[string]
        orig_filenames:vector[string] orig_mime_types:vector[string] resp_fuids:vector[string]
        resp_filenames:vector[string] resp_mime_types:vector[string]
        """
    ),
    optional=_cols(
        f"""
        {_CONN_ID_CTX} client_header_names:vector[string] server_header_names:vector[string]
        cookie_vars:vector[string] uri_vars:vector[string]
        """
    ),
)

SSL = LogSchema(
    name="ssl",
    source="zeek/scripts/base/protocols/ssl/main.zeek and files.zeek (Zeek 6.0 - 8.x); optional columns from "
    "policy/protocols/ssl/validate-certs.zeek, validate-ocsp.zeek, validate-sct.zeek, ssl-log-ext.zeek and "
    "the subject/issuer/fuid columns of Zeek < 6 (policy/protocols/ssl/log-certs-base64.zeek era)",
    columns=_cols(
        f"""
        ts:time uid:string {_CONN_ID} version:string cipher:string curve:string server_name:string
        resumed:bool last_alert:string next_protocol:string established:bool ssl_history:string
        cert_chain_fps:vector[string] client_cert_chain_fps:vector[string] sni_matches_cert:bool
        """
    ),
    optional=_cols(
        f"""
        {_CONN_ID_CTX} validation_status:string ocsp_status:string valid_ct_logs:count
        valid_ct_operators:count valid_ct_operators_list:set[string]
        cert_chain_fuids:vector[string] client_cert_chain_fuids:vector[string] subject:string issuer:string
        client_subject:string client_issuer:string
        server_version:count client_version:count client_ciphers:vector[count] ssl_client_exts:vector[count]
        ssl_server_exts:vector[count] ticket_lifetime_hint:count dh_param_size:count
        point_formats:vector[count] client_curves:vector[count] orig_alpn:vector[string]
        client_supported_versions:vector[count] server_supported_version:count
        psk_key_exchange_modes:vector[count] client_key_share_groups:vector[count]
        server_key_share_group:count client_comp_methods:vector[count] comp_method:count
        sigalgs:vector[count] hashalgs:vector[count]
        """
    ),
)

FILES = LogSchema(
    name="files",
    source="zeek/scripts/base/frameworks/files/main.zeek and base/files/hash/main.zeek (Zeek 6.0 - 8.x); "
    "extracted* from base/files/extract/main.zeek, entropy from policy/frameworks/files/entropy-test-all-files.zeek; "
    "tx_hosts/rx_hosts/conn_uids are the columns of Zeek < 5.1",
    columns=_cols(
        f"""
        ts:time fuid:string uid:string {_CONN_ID} source:string depth:count analyzers:set[string]
        mime_type:string filename:string duration:interval local_orig:bool is_orig:bool seen_bytes:count
        total_bytes:count missing_bytes:count overflow_bytes:count timedout:bool parent_fuid:string
        md5:string sha1:string sha256:string
        """
    ),
    optional=_cols(
        f"""
        {_CONN_ID_CTX} extracted:string extracted_cutoff:bool extracted_size:count entropy:double
        tx_hosts:set[addr] rx_hosts:set[addr] conn_uids:set[string]
        """
    ),
)

NOTICE = LogSchema(
    name="notice",
    source="zeek/scripts/base/frameworks/notice/main.zeek; remote_location.* from "
    "base/frameworks/notice/actions/add-geodata.zeek; dropped from actions/drop.zeek (Zeek 6.0 - 8.x)",
    columns=_cols(
        f"""
        ts:time uid:string {_CONN_ID} fuid:string file_mime_type:string file_desc:string proto:enum
        note:enum msg:string sub:string src:addr dst:addr p:port n:count peer_descr:string
        actions:set[enum] email_dest:set[string] suppress_for:interval remote_location.country_code:string
        remote_location.region:string remote_location.city:string remote_location.latitude:double
        remote_location.longitude:double
        """
    ),
    optional=_cols(f"{_CONN_ID_CTX} dropped:bool"),
)

WEIRD = LogSchema(
    name="weird",
    source="zeek/scripts/base/frameworks/notice/weird.zeek (Zeek 6.0 - 8.x)",
    columns=_cols(f"ts:time uid:string {_CONN_ID} name:string addl:string notice:bool peer:string source:string"),
    optional=_cols(_CONN_ID_CTX),
)

X509 = LogSchema(
    name="x509",
    source="zeek/scripts/base/files/x509/main.zeek and the X509::Certificate record of base/init-bare.zeek "
    "(Zeek 6.0 - 8.x); id is the file id column of Zeek < 5.0",
    columns=_cols(
        """
        ts:time fingerprint:string certificate.version:count certificate.serial:string
        certificate.subject:string certificate.issuer:string certificate.not_valid_before:time
        certificate.not_valid_after:time certificate.key_alg:string certificate.sig_alg:string
        certificate.key_type:string certificate.key_length:count certificate.exponent:string
        certificate.curve:string san.dns:vector[string] san.uri:vector[string] san.email:vector[string]
        san.ip:vector[addr] basic_constraints.ca:bool basic_constraints.path_len:count host_cert:bool
        client_cert:bool
        """
    ),
    optional=_cols("certificate.cn:string certificate.tbs_sig_alg:string id:string"),
)

# Two more logs of the reference samples (brimdata/zed-sample-data, Zeek 6.2).
NTP = LogSchema(
    name="ntp",
    source="zeek/scripts/base/protocols/ntp/main.zeek (Zeek 6.0 - 8.x)",
    columns=_cols(
        f"""
        ts:time uid:string {_CONN_ID} version:count mode:count stratum:count poll:interval
        precision:interval root_delay:interval root_disp:interval ref_id:string ref_time:time
        org_time:time rec_time:time xmt_time:time num_exts:count
        """
    ),
    optional=_cols(_CONN_ID_CTX),
)

ANALYZER = LogSchema(
    name="analyzer",
    source="zeek/scripts/base/frameworks/analyzer/logging.zeek (Zeek 6.1 - 8.x)",
    columns=_cols(
        f"""
        ts:time cause:string analyzer_kind:string analyzer_name:string uid:string fuid:string
        {_CONN_ID} failure_reason:string failure_data:string
        """
    ),
    optional=_cols(_CONN_ID_CTX),
)

SSH = LogSchema(
    name="ssh",
    source="zeek/scripts/base/protocols/ssh/main.zeek (Zeek 6.0 - 8.x); remote_location.* from "
    "policy/protocols/ssh/geo-data.zeek; host_key_fingerprint is Zeek's development branch after 8.2",
    columns=_cols(
        f"""
        ts:time uid:string {_CONN_ID} version:count auth_success:bool auth_attempts:count direction:enum
        client:string server:string cipher_alg:string mac_alg:string compression_alg:string kex_alg:string
        host_key_alg:string host_key:string
        """
    ),
    optional=_cols(
        f"""
        {_CONN_ID_CTX} host_key_fingerprint:string remote_location.country_code:string
        remote_location.region:string remote_location.city:string remote_location.latitude:double
        remote_location.longitude:double
        """
    ),
)

SCHEMAS: dict[str, LogSchema] = {
    schema.name: schema for schema in (CONN, DNS, HTTP, SSL, FILES, NOTICE, WEIRD, X509, NTP, ANALYZER, SSH)
}


def get_schema(log_type: str) -> LogSchema:
    try:
        return SCHEMAS[log_type]
    except KeyError:
        raise ValueError(f"unknown log type {log_type!r}; known: {', '.join(SCHEMAS)}") from None


_NAME_TOKENS = re.compile(r"[^A-Za-z0-9]+")


def log_type_from_name(path: str) -> str | None:
    """The log type a file name announces (``conn.log``, ``conn.00:00:00-01:00:00.log.gz``,
    ``sdft_002_portscan_conn.ndjson``): the first known log type among the name's words, or None."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    for token in _NAME_TOKENS.split(name):
        if token in SCHEMAS:
            return token
    return None


# The logs Zeek's base/ and commonly loaded policy/ scripts write (their ``$path``, Zeek 3.0 - 8.x) that no
# schema above covers yet. A JSON input named after one is refused rather than read as another type.
UNSHIPPED_LOG_TYPES = frozenset(
    """
    broker capture_loss cluster config dce_rpc dhcp dnp3 dpd ftp intel irc kerberos known_certs known_hosts
    known_modbus known_services loaded_scripts modbus mqtt_connect mqtt_publish mqtt_subscribe mysql netcontrol
    netcontrol_drop netcontrol_shunt notice_alarm ntlm ocsp openflow packet_filter pe print quic radius rdp
    reporter signatures sip smb_cmd smb_files smb_mapping smtp snmp socks software stats syslog telemetry
    traceroute tunnel unified2 websocket weird_stats conn_summary
    """.split()
)


def unshipped_log_type_from_name(path: str) -> str | None:
    """The Zeek log type a file name announces (``dhcp.log``, ``smtp.00:00:00-01:00:00.log.gz``) when no
    schema covers it; None when the name announces none."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    whole = [t for t in _WORDS.split(name) if t in UNSHIPPED_LOG_TYPES]  # smb_files, not files
    if whole:
        return whole[0]
    if log_type_from_name(path) is not None:
        return None
    return next((t for t in _NAME_TOKENS.split(name) if t in UNSHIPPED_LOG_TYPES), None)


_WORDS = re.compile(r"[^A-Za-z0-9_]+")
