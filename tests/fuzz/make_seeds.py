#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/ (see README.md).

Small valid and invalid inputs per target, written from the layouts documented
in the headers under test and from the examples in their tests. Run it from the
repository root after a layout changes: python3 tests/fuzz/make_seeds.py
It uses only the standard library and the local protoc (for catalog values);
it rewrites every seed file it knows and leaves other files alone.
"""
import base64
import hashlib
import hmac
import json
import os
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
KEY = b"k" * 32  # the fixed page token key of both token fuzzers
SEP = "\n~~\n"   # field separator of multi-field inputs (fuzz_support.h)


def write(target, name, data):
    path = os.path.join(ROOT, "corpus", target, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(path, "wb") as f:
        f.write(data)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def compact(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# ---- statement ----------------------------------------------------------------

DISTRICT = "https://id.dongcheng.gov.cn"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
ATTENDED = "http://adlnet.gov/expapi/verbs/attended"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
COURSE = "https://lifelong.dongcheng.edu.cn/courses/"

FULL = {
    "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
    "actor": {"objectType": "Agent", "name": "王芳",
              "account": {"homePage": DISTRICT, "name": "u42"}},
    "verb": {"id": COMPLETED, "display": {"zh-CN": "完成", "en-US": "completed"}},
    "object": {"id": COURSE + "c7",
               "definition": {"name": {"zh-CN": "书法入门"},
                              "type": "http://adlnet.gov/expapi/activities/course"}},
    "result": {"score": {"scaled": 0.9, "raw": 90, "min": 0, "max": 100}, "success": True,
               "completion": True, "duration": "PT1H30M"},
    "context": {"registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7", "platform": "kiosk",
                "language": "zh-CN",
                "extensions": {"https://lifelong.dongcheng.edu.cn/xapi/ext/xuequ": "和平里学区",
                               "https://example.org/ext/raw": {"z": 1.5, "a": [1, "二", None]}}},
    "timestamp": "2026-11-28T10:00:00.250+08:00",
}
MINIMAL = {
    "actor": {"mbox": "mailto:a@example.cn"},
    "verb": {"id": ATTENDED},
    "object": {"id": COURSE + "c1"},
}


def statements():
    t = "statement"
    write(t, "valid_full.json", compact(FULL))
    write(t, "valid_minimal_mbox.json", compact(MINIMAL))
    write(t, "valid_spaced.json", json.dumps(MINIMAL, ensure_ascii=False, indent=2) + "\n")
    write(t, "valid_voiding.json", compact({
        "id": "00000000-0000-4000-8000-000000000002",
        "actor": {"mbox_sha1sum": "ebd31e95054c018b10727ccffd2ef2ec3a016ee9"},
        "verb": {"id": VOIDED},
        "object": {"objectType": "StatementRef", "id": "00000000-0000-4000-8000-000000000001"}}))
    # Store-owned members, an upper-case id and a single context activity:
    # the re-serialising path.
    write(t, "valid_group_stored_authority.json", compact({
        "id": "6690E6C9-3EF0-4ED3-8B37-7F3964730BEE",
        "actor": {"objectType": "Group", "name": "书法班",
                  "member": [{"account": {"homePage": DISTRICT, "name": "u1"}},
                             {"mbox": "mailto:b@example.cn"},
                             {"openid": "https://openid.example.org/c"}]},
        "verb": {"id": ATTENDED, "display": {"zh-CN": "参加"}},
        "object": {"id": COURSE + "c2"},
        "context": {"contextActivities": {"parent": {"id": COURSE + "c1"},
                                          "grouping": [{"id": COURSE + "g"}]},
                    "instructor": {"mbox": "mailto:t@example.cn"},
                    "team": {"objectType": "Group", "mbox": "mailto:team@example.cn"},
                    "statement": {"objectType": "StatementRef",
                                  "id": "00000000-0000-4000-8000-000000000003"}},
        "stored": "2026-11-28T02:00:00.000Z",
        "authority": {"objectType": "Group", "member": [
            {"account": {"homePage": "https://oauth.example.org", "name": "app"}},
            {"mbox": "mailto:admin@example.cn"}]},
        "version": "1.0.3"}))
    write(t, "valid_substatement_attachments.json", compact({
        "actor": {"account": {"homePage": "https://idp.example.org", "name": "bob"}},
        "verb": {"id": "http://id.tincanapi.com/verb/rated"},
        "object": {"objectType": "SubStatement",
                   "actor": {"mbox": "mailto:c@example.cn"},
                   "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
                   "object": {"id": "https://example.org/q1",
                              "definition": {"interactionType": "choice",
                                             "correctResponsesPattern": ["a"],
                                             "choices": [{"id": "a", "description": {"en": "A"}}]}},
                   "context": {"contextActivities": {"category": {"id": "https://example.org/cat"}}},
                   "timestamp": "2026-01-01T00:00:00Z"},
        "result": {"duration": "P1DT2.5S", "response": "a", "extensions": {"https://example.org/e": 1}},
        "context": {"contextAgents": [{"objectType": "contextAgent",
                                       "agent": {"mbox": "mailto:d@example.cn"},
                                       "relevantTypes": ["https://example.org/type"]}],
                    "contextGroups": [{"objectType": "contextGroup",
                                       "group": {"objectType": "Group",
                                                 "member": [{"mbox": "mailto:e@example.cn"}]}}]},
        "attachments": [{"usageType": "http://adlnet.gov/expapi/attachments/signature",
                         "display": {"en-US": "signature"}, "contentType": "application/octet-stream",
                         "length": 4, "sha2": "ab" * 32}]}))
    write(t, "invalid_missing_verb.json", compact({k: v for k, v in MINIMAL.items() if k != "verb"}))
    write(t, "invalid_two_ifis.json", compact(dict(MINIMAL, actor={
        "mbox": "mailto:a@example.cn", "openid": "https://o.example.org/a"})))
    write(t, "invalid_timestamp.json", compact(dict(MINIMAL, timestamp="2026-11-28T10:00:00-00:00")))
    write(t, "invalid_voiding_activity.json", compact(dict(MINIMAL, verb={"id": VOIDED})))
    write(t, "invalid_truncated.json", compact(FULL)[:150])
    write(t, "invalid_not_object.json", "[1,2,3]")


# ---- statement_fields -----------------------------------------------------------

def statement_fields():
    t = "statement_fields"
    seeds = {
        "agent_district.json": compact({"objectType": "Agent", "account": {"homePage": DISTRICT, "name": "u42"}}),
        "agent_other_idp.json": compact({"account": {"homePage": "https://idp.example.org", "name": "bob"}}),
        "agent_mbox.json": compact({"mbox": "mailto:a@example.cn", "name": "A"}),
        "agent_sha1.json": compact({"mbox_sha1sum": "EBD31E95054C018B10727CCFFD2EF2EC3A016EE9"}),
        "agent_openid.json": compact({"openid": "https://openid.example.org/u/1"}),
        "group_identified.json": compact({"objectType": "Group", "mbox": "mailto:g@example.cn",
                                          "member": [{"mbox": "mailto:a@example.cn"}]}),
        "group_anonymous.json": compact({"objectType": "Group", "member": [{"mbox": "mailto:a@example.cn"}]}),
        "agent_invalid.json": compact({"mbox": "a@example.cn"}),
        "key_bare.txt": "u42",
        "key_mailto.txt": "mailto:a@example.cn",
        "key_sha1.txt": "sha1:EBD31E95054C018B10727CCFFD2EF2EC3A016EE9",
        "key_openid.txt": "openid:https://openid.example.org/u/1",
        "key_account.txt": "account:https://idp.example.org|bob",
        "key_account_district.txt": "account:https://id.dongcheng.gov.cn/|u7",
        "key_invalid.txt": "tel:123",
        "timestamp_offset.txt": "2026-11-28T10:00:00.123+08:00",
        "timestamp_z.txt": "2026-11-28t02:00:00z",
        "timestamp_year_1000.txt": "1000-01-01T00:00:00Z",
        "timestamp_max.txt": "9999-12-31T23:59:59.999999Z",
        "timestamp_unknown_offset.txt": "2026-11-28T10:00:00-00:00",
        "duration_time.txt": "PT1H30M",
        "duration_mixed.txt": "P1Y2M3DT4H5M6,5S",
        "duration_weeks.txt": "P4W",
        "duration_bad.txt": "P1H",
        "uuid.txt": "6690E6C9-3ef0-4ed3-8b37-7f3964730bee",
        "uuid_bad.txt": "6690e6c9-3ef0-4ed3-8b37_7f3964730bee",
        "language_tag.txt": "zh-Hans-CN",
        "iri.txt": "https://lifelong.dongcheng.edu.cn/courses/c7?x=1#y",
    }
    for name, data in seeds.items():
        write(t, name, data)
    write(t, "micros_8_bytes.bin", struct.pack("<q", 1795831200250000))


# ---- records_key_codec ----------------------------------------------------------

def u16(n):
    return struct.pack(">H", n)


def str16(s):
    b = s.encode("utf-8")
    return u16(len(b)) + b


def statement_record(flags, seq, ts, voided_by, registration, learners, verb, activity, js):
    out = bytes([1, flags]) + struct.pack(">Q", seq) + struct.pack(">q", ts) + voided_by + registration
    out += bytes([len(learners)]) + b"".join(str16(l) for l in learners)
    out += str16(verb) + str16(activity)
    js = js.encode("utf-8")
    return out + struct.pack(">I", len(js)) + js


def records_key_codec():
    t = "records_key_codec"
    uid = bytes.fromhex("6690e6c93ef04ed38b377f3964730bee")
    reg = bytes.fromhex("ec531277b57b4c158d91d292c5b2b8f7")
    write(t, "record_full.bin", statement_record(
        0b10110, 1795831200250001, 1795831200250000, bytes(16), reg, ["u42", "mailto:a@example.cn"],
        COMPLETED, COURSE + "c7", compact(MINIMAL)))
    write(t, "record_voided.bin", statement_record(
        0b00001, 7, -5, uid, bytes(16), ["u1"], ATTENDED, "", "{}"))
    write(t, "record_truncated.bin", statement_record(
        0, 1, 1, bytes(16), bytes(16), ["u1"], ATTENDED, "", "{}")[:-3])
    write(t, "record_bad_format.bin", b"\x02" + bytes(60))
    # Index keys: byte 0 is the prefix length the fuzzer passes.
    prefix = str16("u42")
    tail = struct.pack(">Q", 1795831200250001) + uid
    write(t, "index_learner.bin", bytes([len(prefix)]) + prefix + tail)
    write(t, "index_learner_reference.bin", bytes([len(prefix)]) + prefix + tail + b"R")
    write(t, "index_bad_marker.bin", bytes([len(prefix)]) + prefix + tail + b"X")
    write(t, "index_registration.bin", bytes([16]) + reg + tail)
    write(t, "index_stored.bin", bytes([0]) + tail)
    write(t, "referrers.bin", uid + reg)
    write(t, "referrers_bad_length.bin", uid + reg[:7])
    # Erasure log keys (the fuzzer also tries each input after the prefix).
    digest = hashlib.sha256(b"u42").digest()
    write(t, "erasure_log_key.bin", b"erasure_log/" + struct.pack(">Q", 1795831200250000) + digest)
    write(t, "erasure_log_tail.bin", struct.pack(">Q", 1795831200250000) + digest)
    write(t, "erasure_log_short.bin", b"erasure_log/" + struct.pack(">Q", 1) + digest[:31])


# ---- records_page_token -----------------------------------------------------------

RECORDS_FILTERS = b"learner=u42;verb=;activity="


def records_token(ascending, seq, uid, filters=RECORDS_FILTERS, key=KEY):
    body = bytes([1, 1 if ascending else 0]) + hashlib.sha256(filters).digest()[:8]
    body += struct.pack(">Q", seq) + uid
    return b64url(body + hmac.new(key, body, hashlib.sha256).digest()[:16])


def records_page_token():
    t = "records_page_token"
    uid = bytes.fromhex("6690e6c93ef04ed38b377f3964730bee")
    # (The fuzzer tries every token in both sort orders.)
    write(t, "token_descending.txt", records_token(False, 1795831200250001, uid))
    write(t, "token_ascending.txt", records_token(True, 5, bytes(16)))
    write(t, "token_other_filters.txt", records_token(True, 5, uid, filters=b"verb=x"))
    write(t, "token_other_key.txt", records_token(False, 9, uid, key=b"x" * 32))
    write(t, "token_padded.txt", records_token(True, 77, uid) + "==")
    write(t, "token_not_base64.txt", "not a token!")
    body = bytes([1, 1]) + hashlib.sha256(RECORDS_FILTERS).digest()[:8] + struct.pack(">Q", 3) + uid
    write(t, "body_valid.bin", body)
    write(t, "body_short.bin", body[:20])


# ---- catalog_codec ------------------------------------------------------------------

COURSE_TEXT = """
id: "c0042"
title: "书法入门"
description: "毛笔字基础"
category: "书法"
tags: "传统文化" tags: "老年"
provider { name: "和平里社区学校" kind: COMMUNITY_SCHOOL }
mode: BLENDED
venue { id: "hepingli-sqxx" name: "和平里社区学校" xuequ: "和平里学区" jiedao: "和平里街道"
        location { latitude: 39.95 longitude: 116.41 } }
sessions { start_time { seconds: 1795831200 } end_time { seconds: 1795838400 } room: "201" }
enrollment_open_time { seconds: 1790000000 }
capacity: 30 seats_taken: 12 credits: 2 hours: 16
level: BEGINNER audiences: ADULTS audiences: SENIORS language: "zh-CN"
prerequisite_ids: "c0001" state: OPEN revision: 3 etag: "W/3"
update_time { seconds: 1795831200 nanos: 5000 }
url: "https://lifelong.dongcheng.edu.cn/courses/c0042"
"""


def encode_course(text):
    repo = os.path.dirname(os.path.dirname(ROOT))
    return subprocess.run(
        ["protoc", "-I.", "-I/usr/include", "--encode=lifelong.v1.Course", "proto/lifelong/v1/catalog.proto"],
        input=text.encode("utf-8"), cwd=repo, check=True, capture_output=True).stdout


def catalog_time(micros):
    return struct.pack(">Q", (micros & 0xFFFFFFFFFFFFFFFF) ^ (1 << 63))


def catalog_payload(micros, fingerprint, last_id):
    return b"\x01" + catalog_time(micros) + struct.pack(">Q", fingerprint) + bytes([len(last_id)]) + last_id


def catalog_codec():
    t = "catalog_codec"
    course = encode_course(COURSE_TEXT)
    write(t, "course_value.bin", b"\x01" + course)
    write(t, "course_value_minimal.bin", b"\x01" + encode_course('id: "c1" title: "x" state: DRAFT'))
    write(t, "course_value_bad_tag.bin", b"\x02" + course)
    write(t, "course_value_truncated.bin", b"\x01" + course[:40])
    write(t, "course_key.txt", "c0042")
    write(t, "course_key_bad.txt", "C0042!")
    for kind, term, name in [(1, b"\x02", "state"), (5, "书法".encode(), "category"),
                             (9, b"hepingli-sqxx", "venue")]:
        write(t, "index_%s.bin" % name, bytes([kind]) + u16(len(term)) + term + b"c0042")
    write(t, "index_unknown_kind.bin", b"\x0a" + u16(1) + b"\x01c1")
    write(t, "index_short_term.bin", b"\x05" + u16(40) + b"abc")
    write(t, "meta_u64.bin", struct.pack(">Q", 12345))
    write(t, "meta_u32.bin", struct.pack(">I", 1))
    write(t, "meta_time_negative.bin", catalog_time(-1))
    write(t, "page_token_payload.bin", catalog_payload(1795831200000000, 0xFEEDFACE, b"c0042"))
    write(t, "page_token_payload_trailing.bin", catalog_payload(0, 1, b"c1") + b"x")


# ---- catalog_page_token ---------------------------------------------------------------

def catalog_page_token():
    t = "catalog_page_token"
    payload = catalog_payload(1795000000000000, 0xFEEDFACE, b"c0042")
    tag = hmac.new(KEY, payload, hashlib.sha256).digest()[:16]
    write(t, "token.txt", b64url(payload + tag))
    write(t, "token_other_key.txt", b64url(payload + hmac.new(b"x" * 32, payload, hashlib.sha256).digest()[:16]))
    write(t, "token_short.txt", b64url(tag))
    write(t, "token_not_base64.txt", "%%%")
    write(t, "payload.bin", payload)
    write(t, "payload_bad_id.bin", catalog_payload(1, 2, b"C!"))
    # Bytes 0-7 micros (little-endian), 8-15 fingerprint, then the course id.
    write(t, "sign_input.bin", struct.pack("<qQ", 1795000000000000, 7) + b"c0001")


# ---- multipart ----------------------------------------------------------------------------

def multipart():
    t = "multipart"
    statement = compact(dict(MINIMAL, id="6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
                             result={"duration": "PT1M0.123S"},
                             attachments=[{"usageType": "http://adlnet.gov/expapi/attachments/signature",
                                           "display": {"en-US": "sig"},
                                           "contentType": "application/octet-stream",
                                           "length": 10, "sha2": "ab" * 32}]))
    payload = compact(dict(MINIMAL, id="6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
                           result={"duration": "PT1M0.12S"}))
    header = compact({"alg": "RS256"})
    jws = b64url(header.encode()) + "." + b64url(payload.encode()) + "." + b64url(b"signature")
    body = ("--abc\r\nContent-Type: application/json\r\n\r\n" + statement + "\r\n"
            "--abc\r\nContent-Type: application/octet-stream\r\n"
            "Content-Transfer-Encoding: binary\r\nX-Experience-API-Hash: " + "ab" * 32 + "\r\n\r\n"
            + jws + "\r\n--abc--\r\n")
    fields = ["multipart/mixed; boundary=abc", body, header, payload, "signature", statement]
    write(t, "statement_with_signature.txt", SEP.join(fields))
    lf_body = "preamble\n--b\nContent-Type: text/plain\n\nhello\n--b\n\nno headers\n--b--"
    write(t, "lf_line_ends.txt", SEP.join(['multipart/mixed; boundary="b"', lf_body]))
    write(t, "missing_close.txt", SEP.join(["multipart/mixed; boundary=b", "--b\r\nA: 1\r\n\r\nbody"]))
    write(t, "no_boundary.txt", SEP.join(["multipart/mixed", "--b\r\n\r\nx\r\n--b--"]))
    write(t, "jws_other_alg.txt", SEP.join(["", "", compact({"alg": "HS256"}), payload, "s", statement]))
    write(t, "jws_raw.txt", SEP.join(["", "", jws, "", "", statement]))
    # A new key each time: keep the seed once written, to avoid churn.
    if os.path.exists(os.path.join(ROOT, "corpus", t, "jws_x5c.txt")):
        return
    cert = certificate_der()
    if cert:
        x5c = compact({"alg": "RS256", "x5c": [base64.b64encode(cert).decode("ascii")]})
        write(t, "jws_x5c.txt", SEP.join(["", "", x5c, payload, "signature", statement]))


def certificate_der():
    """A throw-away self-signed certificate, made with the local openssl tool."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:1024", "-nodes", "-days", "1",
                            "-subj", "/CN=fuzz", "-keyout", os.path.join(tmp, "k.pem"),
                            "-outform", "DER", "-out", os.path.join(tmp, "c.der")],
                           check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as e:
            print("no certificate seed (openssl failed: %s)" % e, file=sys.stderr)
            return None
        with open(os.path.join(tmp, "c.der"), "rb") as f:
            return f.read()


# ---- xapi_form ----------------------------------------------------------------------------

def xapi_form():
    t = "xapi_form"
    write(t, "query.txt", "agent=%7B%22mbox%22%3A%22mailto%3Aa%40example.cn%22%7D&limit=10&format=exact")
    write(t, "alternate_syntax.txt",
          "method=PUT&statementId=6690e6c9-3ef0-4ed3-8b37-7f3964730bee&Authorization=Basic+bGlmZWxvbmc6"
          "&X-Experience-API-Version=2.0.0&content=%7B%7D")
    write(t, "malformed_escapes.txt", "a=%zz&b=%4&&=x&c&d=%%41%")
    write(t, "plain.txt", "since=2026-11-28T00:00:00Z")


def main():
    statements()
    statement_fields()
    records_key_codec()
    records_page_token()
    catalog_codec()
    catalog_page_token()
    multipart()
    xapi_form()


if __name__ == "__main__":
    main()
