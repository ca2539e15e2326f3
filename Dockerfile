# heed, the production image. Build from the repository root:
#   docker build -t heed .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/heed ./cmd/heed

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates espeak-ng sox \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/heed heed \
 && mkdir -p /var/lib/heed/media && chown -R heed /var/lib/heed
COPY --from=build /out/heed /usr/local/bin/heed
USER heed
EXPOSE 8080
ENV HEED_LISTEN=0.0.0.0:8080 HEED_MEDIA_DIR=/var/lib/heed/media
# heed health asks the server on HEED_LISTEN for /healthz (on loopback
# when it listens on every address).
HEALTHCHECK --interval=10s --timeout=5s --start-period=2m CMD ["/usr/local/bin/heed", "health", "--timeout", "3s"]
ENTRYPOINT ["/usr/local/bin/heed"]
CMD ["serve"]
