PGBIN=$(echo /usr/lib/postgresql/*/bin)
if [ -x "$PGBIN/postgres" ]; then
  export PGBIN PGDATA=@PGDATA@ TZ=UTC
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    umask 077
    printf '%s\n' "${POSTGRES_PASSWORD}" > /tmp/.pwfile && chown postgres /tmp/.pwfile
    su -s /bin/sh postgres -c '"$PGBIN/initdb" -D "$PGDATA" -U "${POSTGRES_USER:-postgres}" --pwfile=/tmp/.pwfile -A scram-sha-256 --no-locale -E UTF8 --no-sync' 2>/tmp/.initdb.err
    rc=$?; rm -f /tmp/.pwfile; grep -v 'locale' /tmp/.initdb.err >&2; rm -f /tmp/.initdb.err
    [ "$rc" -eq 0 ] || exit 1
    echo 'host all all all scram-sha-256' >> "$PGDATA/pg_hba.conf"
    if [ -n "${POSTGRES_DB}" ] && [ "${POSTGRES_DB}" != "${POSTGRES_USER:-postgres}" ]; then
      echo "CREATE DATABASE \"${POSTGRES_DB}\";" | su -s /bin/sh postgres -c '"$PGBIN/postgres" --single -D "$PGDATA" -j postgres' >/dev/null || exit 1
    fi
  fi
  exec su -s /bin/sh postgres -c 'exec "$PGBIN/postgres" -D "$PGDATA" -c listen_addresses=0.0.0.0 -c unix_socket_directories=/tmp -c shared_buffers=16MB -c max_connections=20'
fi

d() { date -u '+%Y-%m-%d %H:%M:%S.000 UTC'; }
echo "$(d) [1] LOG:  starting PostgreSQL 16.1 on x86_64-pc-linux-musl"
echo "$(d) [1] LOG:  listening on IPv4 address \"0.0.0.0\", port 5432"
echo "$(d) [1] LOG:  database system is ready to accept connections"

nc -ll -p 5432 -e /bin/cat &
idle
