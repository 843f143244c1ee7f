# The image of one machine of `make test-machines` (Tests/machines/run): Debian bookworm with
# Debian's docker.io, running its own dockerd. Built FROM debian:bookworm-slim, which `make images`
# makes from Debian's packages (debootstrap --variant=minbase + docker import, docker/base-image)
# when it cannot be pulled; so nothing here comes from Docker Hub.
FROM debian:bookworm-slim
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        docker.io iptables iproute2 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# Everything the machine's dockerd keeps (images, containers, volumes): one volume per machine,
# so losing the machine's disk is removing that volume.
VOLUME /var/lib/docker
# The run script gives the flags: --storage-driver=vfs (no overlay on overlay) and the registry
# it may reach over plain HTTP (--insecure-registry).
ENTRYPOINT ["dockerd", "--host=unix:///var/run/docker.sock"]
