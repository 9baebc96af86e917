#!/usr/bin/env python3
"""Lints deploy/docker/Dockerfile without a Docker engine (hadolint is not in Debian 12).

Rules (each printed as ok/FAIL):
  - multi-stage: at least two FROM, every stage but the last named (AS name);
  - base images pinned to Debian 12: a bookworm tag (or a digest), never `latest` or untagged;
  - the final stage is debian:bookworm-slim, runs as a non-root USER (numeric uid, not 0),
    declares EXPOSE 50051 and VOLUME /data, copies ragd and ragctl only from the build stage;
  - ENTRYPOINT (and CMD) in exec form (a JSON array);
  - no ADD of a URL (use a verified download in RUN, or COPY);
  - every `apt-get install` has -y and --no-install-recommends, and its RUN removes
    /var/lib/apt/lists; a RUN of scripts/install-deps.sh (which runs apt-get) removes them too;
  - no `apt-get upgrade` / `dist-upgrade` (rebuild on a newer base instead).

Usage: lint_dockerfile.py [--apt-cache] DOCKERFILE   lint one file; with --apt-cache, also
         check that every package installed in the final stage exists (apt-cache show)
       lint_dockerfile.py --self-test              check that each rule rejects a bad example
Exit status 0 when every rule passes, 1 otherwise.
"""

import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    image: str
    name: str
    line: int
    instructions: list = field(default_factory=list)


def parse(text):
    """Instructions with continuation lines joined and comments dropped."""
    instructions = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        pending += stripped
        keyword, _, args = pending.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
        pending = ""
    if pending:
        keyword, _, args = pending.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
    return instructions


def stages_of(instructions):
    stages = []
    for ins in instructions:
        if ins.keyword == "FROM":
            words = [w for w in ins.args.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else ""
            stages.append(Stage(words[0] if words else "", name, ins.line))
        elif stages:
            stages[-1].instructions.append(ins)
    return stages


def exec_form(args):
    try:
        value = json.loads(args)
    except ValueError:
        return False
    return isinstance(value, list) and all(isinstance(v, str) for v in value) and len(value) > 0


def apt_packages(run_args):
    """Package names of the apt-get install commands in one RUN."""
    packages = []
    for command in re.split(r"&&|;|\|\|", run_args):
        words = shlex.split(command, posix=True) if command.strip() else []
        if "apt-get" in words and "install" in words:
            after = words[words.index("install") + 1:]
            packages += [w for w in after if not w.startswith("-")]
    return packages


def lint(text, check_apt_cache=False):
    """List of (ok, message)."""
    results = []

    def rule(ok, message):
        results.append((bool(ok), message))

    instructions = parse(text)
    stages = stages_of(instructions)
    rule(len(stages) >= 2, f"multi-stage build ({len(stages)} stages)")
    names = {s.name for s in stages if s.name}
    for s in stages[:-1]:
        rule(s.name, f"line {s.line}: stage {s.image} is named (FROM ... AS name)")
    for s in stages:
        if s.image in names:
            continue  # built on an earlier stage
        image = s.image
        repo, _, digest = image.partition("@")
        tag = repo.rpartition(":")[2] if ":" in repo.rpartition("/")[2] else ""
        rule(tag != "latest", f"line {s.line}: {image} does not use the latest tag")
        rule(digest.startswith("sha256:") or "bookworm" in tag,
             f"line {s.line}: {image} is pinned to Debian 12 (bookworm tag or digest)")

    for ins in instructions:
        if ins.keyword == "ADD":
            rule(not re.search(r"(^|\s)(https?|ftp)://", ins.args),
                 f"line {ins.line}: ADD fetches no URL")
        if ins.keyword == "RUN":
            runs_apt = False
            if re.search(r"apt-get\s+(-\S+\s+)*install", ins.args):
                runs_apt = True
                rule("--no-install-recommends" in ins.args,
                     f"line {ins.line}: apt-get install --no-install-recommends")
                rule(re.search(r"apt-get\s+(\S+\s+)*?(-y|--yes|-qq|--assume-yes)\b", ins.args),
                     f"line {ins.line}: apt-get install -y")
            if "install-deps.sh" in ins.args:
                runs_apt = True
            if runs_apt:
                rule("rm -rf /var/lib/apt/lists" in ins.args,
                     f"line {ins.line}: the same RUN removes /var/lib/apt/lists")
            if "apt-get" in ins.args:
                rule(not re.search(r"apt-get\s+(\S+\s+)*?(dist-)?upgrade", ins.args),
                     f"line {ins.line}: no apt-get upgrade")

    if not stages:
        return results
    final = stages[-1]
    rule(final.image.startswith("debian:bookworm-slim"),
         f"final stage is debian:bookworm-slim (got {final.image})")
    users = [i for i in final.instructions if i.keyword == "USER"]
    user = users[-1].args.split(":")[0] if users else ""
    rule(user.isdigit() and int(user) != 0,
         f"final stage runs as a numeric non-root USER (got {user or 'none'})")
    entry = [i for i in final.instructions if i.keyword == "ENTRYPOINT"]
    rule(entry and exec_form(entry[-1].args), "ENTRYPOINT in exec form")
    if users and entry:
        rule(users[-1].line < entry[-1].line, "USER is set before ENTRYPOINT")
    for cmd in (i for i in final.instructions if i.keyword == "CMD"):
        rule(exec_form(cmd.args), f"line {cmd.line}: CMD in exec form")
    exposed = " ".join(i.args for i in final.instructions if i.keyword == "EXPOSE").split()
    rule("50051" in exposed or "50051/tcp" in exposed, "EXPOSE 50051")
    volumes = " ".join(i.args for i in final.instructions if i.keyword == "VOLUME")
    rule("/data" in volumes, "VOLUME /data")
    copies = [i for i in final.instructions if i.keyword in ("COPY", "ADD")]
    binaries = set()
    for c in copies:
        words = c.args.split()
        if any(w.startswith("--from=") for w in words):
            binaries |= {w.rsplit("/", 1)[-1] for w in words[:-1] if not w.startswith("--")}
        else:
            rule(False, f"line {c.line}: the final stage copies only from the build stage")
    rule(binaries == {"ragd", "ragctl"}, f"final stage copies ragd and ragctl only (got {sorted(binaries)})")

    if check_apt_cache:
        packages = [p for i in final.instructions if i.keyword == "RUN" for p in apt_packages(i.args)]
        # One apt-cache call for all (each call reads every package list: about a second).
        shown = subprocess.run(["apt-cache", "show", "--no-all-versions", *packages],
                               capture_output=True, text=True)
        known = set(re.findall(r"^Package: (\S+)$", shown.stdout, re.MULTILINE))
        for package in packages:
            rule(package in known, f"runtime package {package} exists in the apt sources (apt-cache show)")
    return results


GOOD = """\
FROM debian:bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends g++ && rm -rf /var/lib/apt/lists/*
FROM debian:bookworm-slim
COPY --from=build /out/ragd /out/ragctl /usr/local/bin/
USER 10001:10001
VOLUME ["/data"]
EXPOSE 50051
ENTRYPOINT ["/usr/local/bin/ragd"]
CMD ["--listen", "0.0.0.0:50051"]
"""

# Each bad example differs from GOOD by one defect that the named rule must report.
BAD = {
    "single stage": ("FROM debian:bookworm AS build\n", "", "multi-stage"),
    "latest tag": ("FROM debian:bookworm-slim\n", "FROM debian:latest\n", "latest tag"),
    "untagged base": ("FROM debian:bookworm AS build", "FROM debian AS build", "pinned to Debian 12"),
    "root user": ("USER 10001:10001", "USER root", "non-root USER"),
    "no user": ("USER 10001:10001\n", "", "non-root USER"),
    "shell entrypoint": ('ENTRYPOINT ["/usr/local/bin/ragd"]', "ENTRYPOINT /usr/local/bin/ragd",
                         "ENTRYPOINT in exec form"),
    "shell cmd": ('CMD ["--listen", "0.0.0.0:50051"]', "CMD --listen 0.0.0.0:50051", "CMD in exec form"),
    "no expose": ("EXPOSE 50051\n", "", "EXPOSE 50051"),
    "add url": ("USER 10001:10001", "ADD https://example.com/x.tgz /x\nUSER 10001:10001", "ADD fetches no URL"),
    "recommends": ("--no-install-recommends ", "", "--no-install-recommends"),
    "lists kept": (" && rm -rf /var/lib/apt/lists/*", "", "removes /var/lib/apt/lists"),
    "upgrade": ("apt-get update &&", "apt-get update && apt-get -y upgrade &&", "no apt-get upgrade"),
    "extra file": ("USER 10001:10001", "COPY secrets.env /etc/\nUSER 10001:10001", "copies only from the build"),
}


def self_test():
    failures = 0
    good = lint(GOOD)
    if not all(ok for ok, _ in good):
        failures += 1
        print("  FAIL  the good example passes: " + "; ".join(m for ok, m in good if not ok))
    else:
        print("  ok    the good example passes every rule")
    for name, (old, new, expected) in BAD.items():
        assert old in GOOD, name
        text = GOOD.replace(old, new, 1)
        reported = [m for ok, m in lint(text) if not ok]
        if any(expected in m for m in reported):
            print(f"  ok    rejects {name}")
        else:
            failures += 1
            print(f"  FAIL  does not reject {name} (wanted '{expected}', got {reported})")
    print(f"self-test: {len(BAD) + 1 - failures} passed, {failures} failed")
    return 0 if failures == 0 else 1


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    args = argv[1:]
    check_apt = "--apt-cache" in args
    args = [a for a in args if a != "--apt-cache"]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as f:
        results = lint(f.read(), check_apt)
    for ok, message in results:
        print(f"  {'ok  ' if ok else 'FAIL'}  {message}")
    bad = sum(1 for ok, _ in results if not ok)
    print(f"{args[0]}: {len(results) - bad} passed, {bad} failed")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
