"""The Array API standard's own test suite (data-apis/array-api-tests) against accel and, in the
same run, against array_api_strict (the standard's reference namespace): pass counts side by side
and every test that passes for array_api_strict but not for accel.

    python bench/array_api_suite.py --suite PATH [--max-examples 5] [--only test_fft.py,...]
                                    [--out FILE.md]

PATH is a checkout of array-api-tests with its spec submodule (array-api) checked out; issue 37
used commit 55fcc60 (spec 5f847a3). The suite is not on any package index and has no network at
CI, so CI cannot fetch it: the script is how its counts are measured. Each namespace runs in its
own pytest process (ARRAY_API_TESTS_MODULE), results read from pytest's JUnit XML; a test counts
as passed when it neither failed nor errored (skips are reported apart).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree

NAMESPACES = ("accel", "array_api_strict")


def run(suite: str, namespace: str, max_examples: int, only: list) -> dict:
    """{test id: "passed" | "failed" | "skipped"} of one namespace's run."""
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "junit.xml")
        targets = [os.path.join("array_api_tests", name) for name in only] if only else ["array_api_tests"]
        env = dict(os.environ, ARRAY_API_TESTS_MODULE=namespace, PYTHONHASHSEED="0")
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
    parser.add_argument("--only", default="", help="comma-separated test files (default: every file)")
    parser.add_argument("--out", default=None, help="write the markdown table here as well")
    args = parser.parse_args()
    only = [name for name in args.only.split(",") if name]
    results = {ns: run(args.suite, ns, args.max_examples, only) for ns in NAMESPACES}
    lines = [f"# array-api-tests: accel beside array_api_strict (--max-examples={args.max_examples})", "",
             "| namespace | passed | failed | skipped |", "|---|---:|---:|---:|"]
    for ns in NAMESPACES:
        counts = [sum(1 for o in results[ns].values() if o == kind) for kind in ("passed", "failed", "skipped")]
        lines.append(f"| {ns} | {counts[0]} | {counts[1]} | {counts[2]} |")
    behind = sorted(t for t, o in results["array_api_strict"].items()
                    if o == "passed" and results["accel"].get(t) != "passed")
    lines += ["", f"Passed by array_api_strict, not by accel ({len(behind)}):", ""]
    lines += [f"- `{t}` ({results['accel'].get(t, 'not run')})" for t in behind]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
