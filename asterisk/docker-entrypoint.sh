#!/bin/sh
# Entrypoint of heed's production PBX image (asterisk/Dockerfile): renders
# the configuration templates in $HEED_TEMPLATES (asterisk/pbx) into
# $ETC_DIR, replacing each @@NAME@@ placeholder with the environment
# variable NAME or its default, then runs Asterisk in the foreground.
# Extra arguments are passed to Asterisk.
set -eu

: "${HEED_TEMPLATES:=/usr/share/heed/asterisk}"

# Network. The defaults keep everything on loopback; production sets at least
# SIP_BIND, MEDIA_ADDRESS (an address of this host, advertised in SDP and
# used for RTP) and TRUNK_HOST/TRUNK_PORT (the carrier).
: "${HTTP_BIND:=127.0.0.1}"
: "${ARI_PORT:=8088}"
: "${ARI_USER:=heed}"
: "${ARI_PASSWORD:?ARI_PASSWORD must be set}"
: "${SIP_BIND:=127.0.0.1}"
: "${SIP_PORT:=5060}"
: "${MEDIA_ADDRESS:=127.0.0.1}"
: "${TRUNK_HOST:=127.0.0.1}"
: "${TRUNK_PORT:=5070}"
: "${RTP_START:=10000}"
: "${RTP_END:=20000}"
: "${VERBOSE:=3}"

# Directories (Debian's layout).
: "${ETC_DIR:=/etc/asterisk}"
: "${MOD_DIR:=$(ls -d /usr/lib/*/asterisk/modules | head -n 1)}"
: "${LIB_DIR:=/var/lib/asterisk}"
: "${SPOOL_DIR:=/var/spool/asterisk}"
: "${RUN_DIR:=/var/run/asterisk}"
: "${LOG_DIR:=/var/log/asterisk}"
: "${CACHE_DIR:=/var/cache/asterisk}"
: "${ASTERISK_USER:=asterisk}"

case "$ARI_USER$ARI_PASSWORD" in
*[\;\[\]@\ ]*)
	echo "heed-asterisk: ARI_USER and ARI_PASSWORD must not contain spaces or any of ;[]@" >&2
	exit 1
	;;
esac

script=$(mktemp)
trap 'rm -f "$script"' EXIT
for name in HTTP_BIND ARI_PORT ARI_USER ARI_PASSWORD SIP_BIND SIP_PORT \
	MEDIA_ADDRESS TRUNK_HOST TRUNK_PORT RTP_START RTP_END VERBOSE \
	ETC_DIR MOD_DIR LIB_DIR SPOOL_DIR RUN_DIR LOG_DIR CACHE_DIR; do
	eval "value=\${$name}"
	# Escape what is special in a sed replacement: \ | &
	value=$(printf '%s' "$value" | sed -e 's/[\\|&]/\\&/g')
	printf 's|@@%s@@|%s|g\n' "$name" "$value" >>"$script"
done

mkdir -p "$ETC_DIR"
for template in "$HEED_TEMPLATES"/*.conf; do
	sed -f "$script" "$template" >"$ETC_DIR/$(basename "$template")"
done
if grep -n '@@[A-Z0-9_]*@@' "$ETC_DIR"/*.conf >&2; then
	echo "heed-asterisk: placeholders above have no value" >&2
	exit 1
fi

mkdir -p "$LIB_DIR" "$SPOOL_DIR" "$SPOOL_DIR/recording" "$RUN_DIR" "$LOG_DIR/cdr-csv" "$CACHE_DIR"
if id "$ASTERISK_USER" >/dev/null 2>&1; then
	chown -R "$ASTERISK_USER:" "$LIB_DIR" "$SPOOL_DIR" "$RUN_DIR" "$LOG_DIR" "$CACHE_DIR"
	set -- -U "$ASTERISK_USER" -G "$ASTERISK_USER" "$@"
fi
rm -f "$script"
trap - EXIT
exec /usr/sbin/asterisk -f -C "$ETC_DIR/asterisk.conf" "$@"
