"""The Array API standard's own test suite (data-apis/array-api-tests) against accel and, in the
same run, against array_api_strict (the standard's reference namespace): pass counts side by side
and every test that passes for array_api_strict but not for accel.

    python bench/array_api_suite.py --suite PATH [--max-examples 5] [--version 2024.12]
                                    [--only test_fft.py,...] [--out FILE.md]

PATH is a checkout of array-api-tests with its spec submodule (array-api) checked out; issue 37
used commit 55fcc60 (spec 5f847a3). The suite is not on any package index and has no network at
CI, so CI cannot fetch it: the script is how its counts are measured. Each namespace runs in its
own pytest process (ARRAY_API_TESTS_MODULE), both at the same version of the standard
(ARRAY_API_TESTS_VERSION, and array_api_strict's ARRAY_API_STRICT_API_VERSION: accel is 2024.12,
array_api_strict 2.6 defaults to 2025.12, whose new functions would otherwise count only for it);
results read from pytest's JUnit XML; a test counts as passed when it neither failed nor errored
(skips are reported apart).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree

from report import publish  # (bench/ is on the path of a script run from it)

NAMESPACES = ("accel", "array_api_strict")


def run(suite: str, namespace: str, max_examples: int, only: list, version: str) -> dict:
    """{test id: "passed" | "failed" | "skipped"} of one namespace's run."""
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "junit.xml")
        targets = [os.path.join("array_api_tests", name) for name in only] if only else ["array_api_tests"]
        env = dict(os.environ, ARRAY_API_TESTS_MODULE=namespace, PYTHONHASHSEED="0", ARRAY_API_TESTS_VERSION=version,
                   ARRAY_API_STRICT_API_VERSION=version)
        command = [sys.executable, "-m", "pytest", *targets, f"--max-examples={max_examples}", "-q",
                   "-p", "no:randomly", "-p", "no:cacheprovider", f"--junitxml={report}", "--hypothesis-seed=0",
                   "-o", "junit_family=xunit1"]
        subprocess.run(command, cwd=suite, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        outcomes = {}
        for case in ElementTree.parse(report).getroot().iter("testcase"):
            test_id = f"{case.get('classname')}::{case.get('name')}"
            if case.find("failure") is not None or case.find("error") is not None:
                outcomes[test_id] = "failed"
            elif case.find("skipped") is not None:
                outcomes[test_id] = "skipped"
            else:
                outcomes[test_id] = "passed"
        return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", required=True, help="a checkout of data-apis/array-api-tests")
    parser.add_argument("--max-examples", type=int, default=5)
    parser.add_argument("--version", default="2024.12", help="the standard's version both namespaces are tested at")
    parser.add_argument("--only", default="", help="comma-separated test files (default: every file)")
    parser.add_argument("--out", default=None, help="write the markdown table here as well")
    args = parser.parse_args()
    only = [name for name in args.only.split(",") if name]
    results = {ns: run(args.suite, ns, args.max_examples, only, args.version) for ns in NAMESPACES}
    lines = [f"# array-api-tests: accel beside array_api_strict (standard {args.version}, "
             f"--max-examples={args.max_examples})", "",
             "| namespace | passed | failed | skipped |", "|---|---:|---:|---:|"]
    for ns in NAMESPACES:
        counts = [sum(1 for o in results[ns].values() if o == kind) for kind in ("passed", "failed", "skipped")]
        lines.append(f"| {ns} | {counts[0]} | {counts[1]} | {counts[2]} |")
    behind = sorted(t for t, o in results["array_api_strict"].items()
                    if o == "passed" and results["accel"].get(t) != "passed")
    lines += ["", f"Passed by array_api_strict, not by accel ({len(behind)}):", ""]
    lines += [f"- `{t}` ({results['accel'].get(t, 'not run')})" for t in behind]
    failed = sorted(t for t, o in results["accel"].items() if o == "failed")
    lines += ["", f"Failed for accel ({len(failed)}; those array_api_strict fails too are marked *both*):", ""]
    lines += [f"- `{t}`" + (" (*both*)" if results["array_api_strict"].get(t) == "failed" else "") for t in failed]
    publish(lines, args.out)


if __name__ == "__main__":
    main()
