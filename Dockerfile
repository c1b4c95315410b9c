# The toolkit as a container image for batch jobs (NVIDIA BCP: use it as the
# job's image, or copy /opt/sp_toolkit out of it). Two stages: build on
# Debian 12 with the project's own setup script, then ship the installed
# tree (`cmake --install`) on debian:12-slim with only the runtime libraries.
#   docker build -t sp_toolkit .
#   docker run --rm sp_toolkit sp_tokenize --help
# Tokenizer files are not baked in: mount them (--vocab-file, --tokenizer-model).
# tests/install/check_install.sh checks, without a container engine, that
# RUNTIME_PACKAGES below provides every shared library the installed tools load.
FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN bash scripts/setup.sh \
 && cmake -S . -B /tmp/build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSP_BUILD_TESTS=OFF -DSP_BUILD_BENCH=OFF \
 && ninja -C /tmp/build \
 && cmake --install /tmp/build --prefix /opt/sp_toolkit

FROM debian:12-slim
ARG RUNTIME_PACKAGES="libsimdjson14 libtbb12 libzstd1 libxxhash0 libpcre2-8-0 libutf8proc2 libsentencepiece0 libssl3 libcurl4 libabsl20220623 libstdc++6 libgcc-s1 libc6 libopenmpi3 openmpi-bin ca-certificates"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${RUNTIME_PACKAGES} \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/sp_toolkit /opt/sp_toolkit
ENV PATH=/opt/sp_toolkit/bin:$PATH
CMD ["sp_tokenize", "--help"]
