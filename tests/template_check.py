"""What linters miss in template.yaml: the parts the code depends on.

Run by tests/template.rs with the test venv's Python (cfn-lint's parser reads
the CloudFormation short tags). Prints each problem and exits 1 if any.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parent.parent

# Variables the template must set for the function to start under Lambda.
REQUIRED_ONE_OF = {"DD_API_KEY_SECRET_ARN", "DD_API_KEY_SSM_NAME", "DD_API_KEY"}


def variables_the_code_reads() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "src").rglob("*.rs"):
        names.update(re.findall(r'get\("([A-Z][A-Z0-9_]+)"\)', path.read_text()))
    return names


def main() -> int:
    template, matches = decode(str(ROOT / "template.yaml"))
    if template is None:
        print("template.yaml does not parse:", matches)
        return 1
    problems: list[str] = []

    def expect(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    functions = {
        name: r for name, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
    }
    expect(len(functions) == 1, f"expected one function, found {sorted(functions)}")
    for name, function in functions.items():
        props = function["Properties"]
        expect(props.get("Runtime") == "provided.al2023", f"{name}: Runtime must be provided.al2023")
        expect(props.get("Handler") == "bootstrap", f"{name}: Handler must be bootstrap")
        expect(
            function.get("Metadata", {}).get("BuildMethod") == "rust-cargolambda",
            f"{name}: Metadata.BuildMethod must be rust-cargolambda",
        )
        binary = function.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        expect(binary == "eks-audit-forwarder", f"{name}: BuildProperties.Binary must name the crate's binary")

        arch = props.get("Architectures")
        expect(arch == [{"Ref": "Architecture"}], f"{name}: Architectures must be [!Ref Architecture]")
        allowed = set(template["Parameters"]["Architecture"].get("AllowedValues", []))
        expect(allowed == {"arm64", "x86_64"}, f"Architecture must allow exactly arm64 and x86_64, not {allowed}")
        expect(template["Parameters"]["Architecture"].get("Default") == "arm64", "Architecture defaults to arm64")
        for param, default in (("MemorySize", 128), ("Timeout", 60)):
            expect(template["Parameters"][param].get("Default") == default, f"{param} defaults to {default}")

        events = props.get("Events", {})
        logs = [e for e in events.values() if e.get("Type") == "CloudWatchLogs"]
        expect(len(logs) == 1, "exactly one CloudWatchLogs event")
        for event in logs:
            keys = set(event.get("Properties", {}))
            expect(keys == {"LogGroupName", "FilterPattern"}, f"CloudWatchLogs properties are {sorted(keys)}")
        schedules = [e for e in events.values() if e.get("Type") == "Schedule"]
        expect(len(schedules) == 1, "exactly one Schedule event (replay)")
        for event in schedules:
            given = event.get("Properties", {}).get("Input")
            expect(given is not None and json.loads(given) == {"retry": "true"}, 'the schedule sends {"retry":"true"}')

        destination = props.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure", {})
        expect(destination.get("Type") == "SQS", "an on-failure SQS destination")

        env = set(props.get("Environment", {}).get("Variables", {}))
        read = variables_the_code_reads()
        for var in sorted(env - read):
            problems.append(f"the template sets {var}, which the code never reads")
        expect(bool(env & REQUIRED_ONE_OF), f"the template sets none of {sorted(REQUIRED_ONE_OF)}")
        expect("DD_API_KEY" not in env, "the API key must not be a plain environment variable")
        if "DD_STORE_FAILED_EVENTS" in env:
            expect("DD_S3_BUCKET_NAME" in env, "DD_STORE_FAILED_EVENTS needs DD_S3_BUCKET_NAME")

    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
