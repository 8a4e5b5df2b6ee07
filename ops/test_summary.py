#!/usr/bin/env python3
"""Counts test cases from one `bazel test` run.

argv[1]: the captured bazel output; argv[2]: the bazel-testlogs directory.
For every test target bazel reported, reads its test.xml (gtest's own XML, or
the one bazel writes for shell tests) and counts passed and failed cases. A
target that failed without a readable XML counts as one failed case; a build
failure (no target reported at all) counts as one failed case too. A target
Bazel reports FLAKY (declared `flaky`, failed, then passed on a retry) is
counted from its last attempt's XML, and named on a line of its own.
Prints "N passed, N failed" last; exits 1 when anything failed.
"""
import os
import re
import sys
import xml.etree.ElementTree as ET

out_path, testlogs = sys.argv[1], sys.argv[2]
text = open(out_path, encoding="utf-8", errors="replace").read()
results = re.findall(r"^(//\S+)\s+(?:\(cached\)\s+)?(PASSED|FAILED|TIMEOUT|FLAKY|NO STATUS|FAILED TO BUILD)",
                     text, re.M)
passed = failed = 0
for target, status in results:
    pkg, name = target[2:].split(":")
    xml_path = os.path.join(testlogs, pkg, name, "test.xml")
    cases_pass = cases_fail = 0
    if status not in ("NO STATUS", "FAILED TO BUILD") and os.path.exists(xml_path):
        try:
            root = ET.parse(xml_path).getroot()
            for case in root.iter("testcase"):
                if case.get("status") == "notrun":
                    continue
                if case.find("failure") is not None or case.find("error") is not None:
                    cases_fail += 1
                else:
                    cases_pass += 1
        except ET.ParseError:
            pass
    ok = status in ("PASSED", "FLAKY")
    if not ok and cases_fail == 0:
        cases_fail = 1  # crashed, timed out or did not build
    if ok and cases_fail == 0 and cases_pass == 0:
        cases_pass = 1
    if status == "FLAKY":
        print(f"  {target} failed, then passed on a retry (flaky; its attempts: test.log under bazel-testlogs)")
    print(f"  {target:60s} {status:8s} {cases_pass} passed, {cases_fail} failed")
    passed += cases_pass
    failed += cases_fail
if not results:
    failed += 1
    print("  no test results found (build failure?)")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
