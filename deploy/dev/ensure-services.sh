#!/usr/bin/env bash
# Makes sure the real services the test suite talks to are up: Mosquitto on 127.0.0.1:1883 and
# PostgreSQL on 127.0.0.1:5432 (user postgres, database test). Starts them (root) or says how.
set -euo pipefail
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_up() { for _ in $(seq 1 50); do up "$1" && return 0; sleep 0.2; done; return 1; }

if ! up 1883; then
  if [ "$(id -u)" -eq 0 ] && command -v mosquitto >/dev/null; then
    echo "starting mosquitto on 127.0.0.1:1883"
    mosquitto -d -c /etc/mosquitto/mosquitto.conf
    wait_up 1883 || { echo "mosquitto did not start: see /var/log/mosquitto/mosquitto.log" >&2; exit 1; }
  else
    echo "the tests need Mosquitto on 127.0.0.1:1883: run  sudo mosquitto -d -c /etc/mosquitto/mosquitto.conf" >&2
    exit 1
  fi
fi

if ! up 5432; then
  if [ "$(id -u)" -eq 0 ] && command -v pg_ctlcluster >/dev/null; then
    echo "starting PostgreSQL on 127.0.0.1:5432"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
    wait_up 5432 || { echo "PostgreSQL did not start" >&2; exit 1; }
  else
    echo "the tests need PostgreSQL on 127.0.0.1:5432: run  sudo pg_ctlcluster \$(ls /etc/postgresql) main start" >&2
    exit 1
  fi
fi

# The suite connects as postgres/postgres over TCP (a trust-auth server ignores the password).
if ! PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -Atc "select 1" >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
  else
    echo "the tests connect to PostgreSQL as postgres/postgres on 127.0.0.1: run  sudo -u postgres psql -c \"ALTER USER postgres PASSWORD 'postgres'\"" >&2
    exit 1
  fi
fi
