#!/usr/bin/env python3
"""Tests/docs/topology.py: what the deployments say about the tiers is what nginx/topology says.

nginx/render-conf and nginx/bazarctl read nginx/topology itself; what cannot read it is held
against it here:
- compose.yaml has a service for each tier (and nginx), each tier's image is its program, and
  each tier's command gives its --name (none for the tier of many instances, which the
  entrypoint names by address), --role, --peer and --witnesses as the topology does (a flag
  left out: the topology says "-", or, for --witnesses, the program's default is the same);
- the programs' defaults name the topology's tiers: bazar-catalog's --witnesses, bazar-front's
  --catalogs and --orders;
- each socket a tier binds itself is passed to it by its flag, at run/NAME-KIND.sock by
  bazarctl and at its TCP port by the container entrypoint, which binds its main socket at
  the main port; nginx's entrypoint waits for the topology's tiers;
- nginx.conf.template has each placeholder the topology names.

    python3 Tests/docs/topology.py [ROOT]   # one line per problem, exit 1 when there is one

Tests/docs/check runs it too (make test). ROOT (default: this repository) lets it check a
copy. Python 3, standard library only: compose.yaml is read line by line, by its indentation.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
# The flag by which a tier is given a socket of KIND that it binds itself.
SOCKET_FLAGS = {"writes": "--writes-socket", "invalidate": "--invalidation-socket", "misses": "--misses-socket"}
# The programs' sources, where their flags' defaults are.
SOURCES = {"bazar-catalog": "Sources/Catalog/CatalogTier.swift", "bazar-front": "Sources/Front/FrontTier.swift",
           "bazar-order": "Sources/Order/OrderTier.swift"}


def read(root, name, problems):
    """The text of root/name, or None (and a problem) when it cannot be read."""
    try:
        with open(os.path.join(root, name), encoding="utf-8") as f:
            return f.read()
    except OSError as error:
        problems.append("%s: cannot be read (%s)" % (name, error.strerror))
        return None


def topology(text, problems):
    """[{name, program, role, peer, witnesses, instances, sockets: [(kind, port, placeholder)]}]"""
    tiers = []
    columns = ("name", "program", "role", "peer", "witnesses", "instances", "sockets")
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) != len(columns):
            problems.append("nginx/topology:%d: %d columns, not %d" % (number, len(words), len(columns)))
            continue
        tier = dict(zip(columns, words))
        tier["sockets"] = [tuple((socket.split(":") + [""])[:3]) for socket in tier["sockets"].split(",")]
        tiers.append(tier)
    if not tiers:
        problems.append("nginx/topology names no tier")
    return tiers


def flow_list(value):
    """The items of a YAML flow sequence `[a, "b", c]`."""
    value = value.strip()
    if not (value.startswith("[") and value.endswith("]")):
        return None
    return [item.strip().strip("\"'") for item in value[1:-1].split(",") if item.strip()]


def compose_services(text):
    """{service: {key: value}} of compose.yaml's `services` (each service's own keys, as text)."""
    services = {}
    in_services = False
    service = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        depth = len(line) - len(line.lstrip(" "))
        if depth == 0:
            in_services = line.rstrip() == "services:"
            service = None
        elif in_services and depth == 2:
            match = re.match(r"\s{2}([A-Za-z0-9_.-]+):\s*$", line)
            service = match.group(1) if match else None
            if service:
                services[service] = {}
        elif in_services and depth == 4 and service:
            match = re.match(r"\s{4}([A-Za-z_<][A-Za-z0-9_<-]*):\s*(.*)$", line)
            if match:
                services[service][match.group(1)] = match.group(2).strip()
    return services


def flags_of(words):
    """{flag: value} of a command's `--flag value` pairs."""
    return {words[i]: words[i + 1] for i in range(len(words) - 1) if words[i].startswith("--")}


def swift_default(root, program, flag, problems):
    """The default list of a program's list flag (`flags.list("FLAG", default: [...])`)."""
    source = SOURCES.get(program)
    text = read(root, source, problems) if source else None
    match = re.search(r'flags\.list\("%s",\s*default:\s*\[([^\]]*)\]' % re.escape(flag), text or "")
    if not match:
        problems.append("%s: no default of --%s found for %s" % (source or program, flag, program))
        return None
    return [item.strip().strip('"') for item in match.group(1).split(",") if item.strip()]


def check_compose(root, tiers, problems):
    text = read(root, "compose.yaml", problems)
    if text is None:
        return
    services = compose_services(text)
    names = [tier["name"] for tier in tiers]
    for service in sorted(set(services) - set(names) - {"nginx"}):
        problems.append("compose.yaml: service %s is no tier of nginx/topology" % service)
    for tier in tiers:
        name, where = tier["name"], "compose.yaml: service %s" % tier["name"]
        service = services.get(name)
        if service is None:
            problems.append("compose.yaml: no service %s (a tier of nginx/topology)" % name)
            continue
        if service.get("image") != tier["program"]:
            problems.append("%s: image %s, not %s (its program in nginx/topology)" % (where, service.get("image"), tier["program"]))
        command = flow_list(service.get("command", "[]"))
        if command is None:
            problems.append("%s: command is not a [list]" % where)
            continue
        flags = flags_of(command)
        wanted = {"--name": name if tier["instances"] == "1" else "-", "--role": tier["role"], "--peer": tier["peer"]}
        for flag, value in wanted.items():
            if flags.get(flag, "-") != value:
                problems.append("%s: %s %s, not %s as in nginx/topology" % (where, flag, flags.get(flag, "(none)"),
                                                                            "(none)" if value == "-" else value))
        witnesses = tier["witnesses"]
        if "--witnesses" in flags:
            if flags["--witnesses"] != witnesses:
                problems.append("%s: --witnesses %s, not %s as in nginx/topology" % (where, flags["--witnesses"], witnesses))
        elif witnesses != "-":
            default = swift_default(root, tier["program"], "witnesses", problems)
            if default is not None and ",".join(default) != witnesses:
                problems.append("%s: no --witnesses, and %s's default is %s, not %s as in nginx/topology" % (
                    where, tier["program"], ",".join(default), witnesses))


def check_defaults(root, tiers, problems):
    """The front calls every catalog and order tier: its --catalogs and --orders defaults."""
    for program, flag in (("bazar-catalog", "catalogs"), ("bazar-order", "orders")):
        wanted = [tier["name"] for tier in tiers if tier["program"] == program]
        default = swift_default(root, "bazar-front", flag, problems)
        if default is not None and default != wanted:
            problems.append("%s: bazar-front's --%s defaults to %s, not the %s tiers of nginx/topology (%s)" % (
                SOURCES["bazar-front"], flag, ",".join(default), program, ",".join(wanted)))


def check_sockets(root, tiers, problems):
    bazarctl = read(root, "nginx/bazarctl", problems) or ""
    entrypoint = read(root, "docker/tier-entrypoint", problems) or ""
    nginx_entrypoint = read(root, "docker/nginx-entrypoint", problems) or ""
    template = read(root, "nginx/nginx.conf.template", problems) or ""
    for tier in tiers:
        for kind, port, placeholder in tier["sockets"]:
            where = "nginx/topology: %s's %s socket" % (tier["name"], kind)
            if placeholder and "@%s@" % placeholder not in template:
                problems.append("%s fills @%s@, which nginx/nginx.conf.template does not have" % (where, placeholder))
            if kind == "main":
                if not re.search(r"spawn-fcgi -n -a \"\$OWN\" -p %s\b" % port, entrypoint):
                    problems.append("%s is port %s, where docker/tier-entrypoint's spawn-fcgi does not bind" % (where, port))
                continue
            flag = SOCKET_FLAGS.get(kind)
            if flag is None:
                problems.append("%s: no flag known for a socket of kind %s (Tests/docs/topology.py)" % (where, kind))
                continue
            if '%s "$RUN/$name-%s.sock"' % (flag, kind) not in bazarctl:
                problems.append("%s: nginx/bazarctl does not pass %s \"$RUN/$name-%s.sock\"" % (where, flag, kind))
            if '%s "$OWN:%s"' % (flag, port) not in entrypoint:
                problems.append("%s: docker/tier-entrypoint does not pass %s \"$OWN:%s\"" % (where, flag, port))
    match = re.search(r"for name in ([a-z0-9 -]+); do", nginx_entrypoint)
    waited = set(match.group(1).split()) if match else set()
    if waited != {tier["name"] for tier in tiers}:
        problems.append("docker/nginx-entrypoint waits for %s, not the tiers of nginx/topology (%s)" % (
            " ".join(sorted(waited)) or "no tier", " ".join(tier["name"] for tier in tiers)))


def check(problems, root=ROOT):
    """Appends every disagreement with nginx/topology to problems; returns how many tiers it names."""
    text = read(root, "nginx/topology", problems)
    if text is None:
        return 0
    tiers = topology(text, problems)
    check_compose(root, tiers, problems)
    check_defaults(root, tiers, problems)
    check_sockets(root, tiers, problems)
    return len(tiers)


def main():
    root = os.path.realpath(sys.argv[1]) if len(sys.argv) > 1 else ROOT
    problems = []
    count = check(problems, root)
    for problem in problems:
        print(problem)
    if problems:
        print("topology check: %d problems" % len(problems), file=sys.stderr)
        return 1
    print("topology check: ok (compose.yaml, the entrypoints and the programs' defaults agree with the %d tiers of nginx/topology)" % count)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] in (["-h"], ["--help"]):
        print(__doc__)
        sys.exit(0)
    sys.exit(main())
