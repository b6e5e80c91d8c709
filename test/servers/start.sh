#!/usr/bin/env bash
# Starts the real servers the integration tests talk to, on 127.0.0.1 high ports, with
# all state under $POP3_TEST_SERVERS_DIR (default /tmp/pop3-monitor-servers):
#   Dovecot 2.3  pop3 127.0.0.1:10110 (STLS)   pop3s 127.0.0.1:10995 (implicit TLS)
#   Postfix 3.7  smtp 127.0.0.1:10025 (no auth) submission 127.0.0.1:10587 (STARTTLS + AUTH)
#   Courier 1.0  pop3 127.0.0.1:11110 (STLS)   pop3s 127.0.0.1:11995   (courier.sh)
#   Cyrus 3.6    pop3 127.0.0.1:12110 (STLS)   pop3s 127.0.0.1:12995   (cyrus.sh)
#   oidc-provider  OAuth2 127.0.0.1:19444 (token, introspection, revocation; oauth-server.ts)
# Every run stops the previous instance and rebuilds config, certificates and mailboxes
# from scratch, so each test run starts from the same fixture state.
# test/servers/env.ts mirrors the ports, users and paths; keep them in step.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_root
for bin in dovecot doveadm postfix postconf openssl useradd node; do
  command -v "$bin" >/dev/null ||
    die "'$bin' not found: run test/servers/packages.sh (npm test does)"
done
check_runtime_path

# One start at a time: the lock lives beside the runtime dir, which is deleted below.
exec 9>"${RUNTIME%/}.lock"
flock -w 60 9 || die "another start.sh holds ${RUNTIME%/}.lock"

bash "$SERVERS_SRC/stop.sh" >/dev/null
# A failed start leaves nothing half-running (the logs stay for reading).
stop_on_failure() {
  local status=$?
  [ "$status" -eq 0 ] || bash "$SERVERS_SRC/stop.sh" >/dev/null 2>&1 || true
}
trap stop_on_failure EXIT
for port in "$POP3_PORT" "$POP3S_PORT" "$SMTP_PORT" "$SUBMISSION_PORT" "$OAUTH_PORT" \
  "$COURIER_POP3_PORT" "$COURIER_POP3S_PORT" "$CYRUS_POP3_PORT" "$CYRUS_POP3S_PORT"; do
  if port_open "$port"; then
    die "$HOST:$port is already in use by a process start.sh did not start: $(ss -ltnpH "sport = :$port" 2>/dev/null | head -n 1)"
  fi
done

umask 022
rm -rf "$RUNTIME"
mkdir -p "$RUNTIME"
chmod 755 "$RUNTIME" # daemon users (dovecot, dovenull, postfix, pop3test) traverse it
touch "$RUNTIME/$MARKER"
mkdir -p "$RUNTIME/logs" "$RUNTIME/tls" "$DOVECOT_DIR/state" "$POSTFIX_CONF" "$POSTFIX_QUEUE" "$OAUTH_DIR"

# --- the unprivileged owner of all mail (Dovecot's mail processes and Postfix's virtual
# delivery agent both switch to it; Dovecot refuses root for mail access) --------------
if ! id -u "$MAIL_OWNER" >/dev/null 2>&1; then
  if getent group "$MAIL_OWNER" >/dev/null; then
    useradd --system --gid "$MAIL_OWNER" --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$MAIL_OWNER"
  else
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$MAIL_OWNER"
  fi
fi
MAIL_UID="$(id -u "$MAIL_OWNER")"
MAIL_GID="$(id -g "$MAIL_OWNER")"

# --- TLS: a test CA, a server certificate it signed, and an unrelated CA ---------------
TLS="$RUNTIME/tls"
cat >"$TLS/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
make_ca() { # make_ca NAME CN
  openssl req -config "$TLS/openssl.cnf" -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -nodes -keyout "$TLS/$1.key" -out "$TLS/$1.pem" -days 30 -subj "/CN=$2" -extensions ca \
    -set_serial "0x$(openssl rand -hex 8)" 2>/dev/null
}
make_ca ca "pop3-monitor test CA"
make_ca other-ca "pop3-monitor unrelated CA"
openssl req -config "$TLS/openssl.cnf" -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -nodes -keyout "$TLS/server.key" -out "$TLS/server.csr" -subj "/CN=localhost" 2>/dev/null
openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" \
  -set_serial "0x$(openssl rand -hex 8)" -days 30 -extfile "$TLS/openssl.cnf" \
  -extensions server -out "$TLS/server.pem" 2>/dev/null
rm -f "$TLS/server.csr" "$TLS/other-ca.key"
chmod 600 "$TLS"/*.key
chmod 644 "$TLS"/*.pem

# --- mailboxes ---------------------------------------------------------------------------
MAIL="$RUNTIME/mail"
# loop, loophold, watched: the mail-flow tests (delivery loops, expect watches).
USERS=(alice empty alerts ops locked many monitor loop loophold watched)
# Mailboxes of the OAuth2 tests: they log in only with XOAUTH2 / OAUTHBEARER (passdb oauth2).
OAUTH_USERS=(oauth-app oauth-user)
for user in "${USERS[@]}" "${OAUTH_USERS[@]}"; do
  mkdir -p "$MAIL/$user/Maildir/cur" "$MAIL/$user/Maildir/new" "$MAIL/$user/Maildir/tmp"
done

# deliver_fixture USER FILE: copies FILE into cur/ under a name whose leading timestamp is
# the message's Date:. Dovecot assigns UIDs to a new maildir's files in the order of that
# timestamp (maildir_time_cmp), so message 1 is always the oldest.
deliver_fixture() {
  local user="$1" file="$2" epoch
  epoch="$(fixture_epoch "$file")"
  cp "$file" "$MAIL/$user/Maildir/cur/$epoch.M0P0.fixture:2,"
  touch -d "@$epoch" "$MAIL/$user/Maildir/cur/$epoch.M0P0.fixture:2,"
}
FIXTURES="$REPO_ROOT/test/fixtures/mail"
for file in "$FIXTURES"/alice/*.eml; do deliver_fixture alice "$file"; done
deliver_fixture locked "$FIXTURES/locked/1.eml"
deliver_fixture oauth-app "$FIXTURES/locked/1.eml"
deliver_fixture oauth-user "$FIXTURES/locked/1.eml"

# many: 500 small messages, one a minute from 2026-01-01T00:00:00Z (epoch 1767225600).
many_cur="$MAIL/many/Maildir/cur"
for ((i = 1; i <= 500; i++)); do
  epoch=$((1767225600 + (i - 1) * 60))
  printf -v date 'Thu, 01 Jan 2026 %02d:%02d:00 +0000' $(((i - 1) / 60)) $(((i - 1) % 60))
  printf 'Message-ID: <many-%d@fixtures.test.local>\r\nDate: %s\r\nFrom: Load <load@example.test>\r\nTo: Many <many@test.local>\r\nSubject: Message %d of 500\r\n\r\nBody of message %d.\r\n' \
    "$i" "$date" "$i" "$i" >"$many_cur/$epoch.M$i""P0.fixture:2,"
done

chown -R "$MAIL_UID:$MAIL_GID" "$MAIL"
chmod 755 "$MAIL"
find "$MAIL" -mindepth 1 -type d -exec chmod 700 {} +
find "$MAIL" -type f -exec chmod 600 {} +

# --- the OAuth2 authorization server (before Dovecot, which introspects with it) -------------
: >"$OAUTH_LOG"
(
  cd "$REPO_ROOT"
  exec setsid node --import tsx "$SERVERS_SRC/oauth-server.ts" "$OAUTH_PORT" "$OAUTH_PID" \
    >>"$OAUTH_LOG" 2>&1 </dev/null 9>&-
) &
wait_banner "oauth (oidc-provider)" "$OAUTH_PORT" "" "$OAUTH_LOG"
for ((i = 0; i < 100; i++)); do [ -s "$OAUTH_PID" ] && break; sleep 0.05; done
echo "oauth: oidc-provider http://$HOST:$OAUTH_PORT, log $OAUTH_LOG"

# --- Dovecot -------------------------------------------------------------------------------
PASSWD="$DOVECOT_DIR/passwd"
{
  for user in "${USERS[@]}"; do
    extra=""
    # RFC 2449 [IN-USE]: only this user's maildrop is locked for the whole session.
    [ "$user" = locked ] && extra="userdb_pop3_lock_session=yes"
    echo "$user:{PLAIN}$user-pass-1:$MAIL_UID:$MAIL_GID::$MAIL/$user::$extra"
  done
} >"$PASSWD"
chown root:dovecot "$PASSWD"
chmod 640 "$PASSWD"

# The OAuth2 users: a userdb only (no password); their passdb is oauth2, which asks the
# authorization server to introspect the token (RFC 7662). Every token of the test server
# carries mailboxes="*@oauth.test"; Dovecot 2.3 puts both it and the SASL user through
# username_format (%Ld, the domain) and compares: a token opens every mailbox of the domain,
# as an Exchange Online app permission does.
OAUTH_USERDB="$DOVECOT_DIR/oauth-users"
for user in "${OAUTH_USERS[@]}"; do
  echo "$user@oauth.test::$MAIL_UID:$MAIL_GID::$MAIL/$user::"
done >"$OAUTH_USERDB"
OAUTH_PASSDB="$DOVECOT_DIR/oauth2.conf.ext"
cat >"$OAUTH_PASSDB" <<EOF
introspection_mode = post
introspection_url = http://dovecot:dovecot-introspect-1@$HOST:$OAUTH_PORT/token/introspection
force_introspection = yes
username_attribute = mailboxes
username_format = %Ld
active_attribute = active
active_value = true
timeout_msecs = 5000
EOF
chown root:dovecot "$OAUTH_USERDB" "$OAUTH_PASSDB"
chmod 640 "$OAUTH_USERDB" "$OAUTH_PASSDB"

dh_line=""
[ -f /usr/share/dovecot/dh.pem ] && dh_line="ssl_dh = </usr/share/dovecot/dh.pem"

cat >"$DOVECOT_CONF" <<EOF
# Generated by test/servers/start.sh: do not edit, it is rewritten on every start.
instance_name = pop3-monitor-test
base_dir = $DOVECOT_BASE
state_dir = $DOVECOT_DIR/state
protocols = pop3
listen = $HOST
log_path = $DOVECOT_LOG
auth_verbose = yes
verbose_proctitle = yes

ssl = yes
ssl_cert = <$TLS/server.pem
ssl_key = <$TLS/server.key
ssl_min_protocol = TLSv1.2
$dh_line

# USER/PASS on the plain port too; APOP needs the plaintext passwords below.
disable_plaintext_auth = no
auth_mechanisms = plain login apop xoauth2 oauthbearer
# Seconds only (Dovecot 2.3 rejects "200 ms" for this setting); 0 answers a wrong
# password at once instead of after the 2 s default.
auth_failure_delay = 0
# 127.0.0.1 is deliberately NOT trusted: a trusted network changes login behaviour.
login_trusted_networks =

first_valid_uid = 100
first_valid_gid = 1
mail_uid = $MAIL_UID
mail_gid = $MAIL_GID
mail_location = maildir:$MAIL/%n/Maildir
mail_max_userip_connections = 1000
# Parallel tests and benchmarks open many sessions at once; the defaults (100 processes
# per service) would make Dovecot drop connections past that.
default_process_limit = 512
default_client_limit = 4096

passdb {
  driver = passwd-file
  args = scheme=PLAIN $PASSWD
}
# Tokens only: the password users above never reach it.
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $OAUTH_PASSDB
}
userdb {
  driver = passwd-file
  args = $PASSWD
}
userdb {
  driver = passwd-file
  args = $OAUTH_USERDB
}

# High-performance login mode, as busy production servers run: one long-lived login
# process serves every connection. Its TLS session-ticket key then outlives a single
# connection, so clients can resume TLS sessions (the default one-process-per-connection
# mode makes every ticket useless).
service pop3-login {
  service_count = 0
  process_min_avail = 1
  inet_listener pop3 {
    address = $HOST
    port = $POP3_PORT
  }
  inet_listener pop3s {
    address = $HOST
    port = $POP3S_PORT
    ssl = yes
  }
}

# Postfix's submission service authenticates SMTP clients through this socket.
service auth {
  unix_listener auth-postfix {
    mode = 0660
    user = postfix
    group = postfix
  }
}

# The auth penalty (anvil) delays every login from an IP that recently failed one, by
# 2 s up to 15 s: all tests share 127.0.0.1, so one wrong-password test would slow every
# later login. Mode 0 drops the socket, which turns the penalty off.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
EOF

: >"$DOVECOT_LOG"
if ! dovecot -c "$DOVECOT_CONF" >"$DOVECOT_DIR/start.out" 2>&1 9>&-; then
  cat "$DOVECOT_DIR/start.out" >&2
  tail -n 20 "$DOVECOT_LOG" >&2
  die "dovecot failed to start"
fi
wait_banner "dovecot pop3" "$POP3_PORT" "+OK" "$DOVECOT_LOG"
wait_banner "dovecot pop3s" "$POP3S_PORT" "" "$DOVECOT_LOG"
echo "dovecot: pop3 (STLS) $HOST:$POP3_PORT, pop3s $HOST:$POP3S_PORT, log $DOVECOT_LOG"

# --- Postfix -------------------------------------------------------------------------------
cat >"$POSTFIX_CONF/main.cf" <<EOF
# Generated by test/servers/start.sh: do not edit, it is rewritten on every start.
compatibility_level = 3.6
queue_directory = $POSTFIX_QUEUE
data_directory = $POSTFIX_DATA
maillog_file = $POSTFIX_LOG
# postfix refuses a maillog_file outside these prefixes (default /var, /dev/stdout).
maillog_file_prefixes = $RUNTIME/logs
mail_owner = postfix
setgid_group = postdrop

myhostname = mail.test.local
mydomain = test.local
myorigin = test.local
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_banner = \$myhostname ESMTP pop3-monitor test server
biff = no
append_dot_mydomain = no
readme_directory = no
smtpd_peername_lookup = no
in_flow_delay = 0

# Deliver nothing locally and relay nothing: only the virtual domain below gets mail.
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains =
relayhost =
local_transport = error:local delivery is disabled
default_transport = error:outbound mail is disabled on the test server
relay_transport = error:outbound mail is disabled on the test server
smtpd_relay_restrictions = reject_unauth_destination
# Mail for loophold@ waits in the hold queue until released (postsuper -H ALL): the
# mail-flow tests hold a probe message in flight for as long as they need.
smtpd_recipient_restrictions = check_recipient_access inline:{ loophold@test.local=HOLD }

# test.local goes into the same Maildir tree Dovecot serves; unlisted recipients are
# rejected at RCPT (smtpd_reject_unlisted_recipient, on by default).
virtual_mailbox_domains = test.local
virtual_mailbox_base = $MAIL
virtual_mailbox_maps = inline:{ alerts@test.local=alerts/Maildir/, ops@test.local=ops/Maildir/, loop@test.local=loop/Maildir/, loophold@test.local=loophold/Maildir/, watched@test.local=watched/Maildir/ }
virtual_uid_maps = static:$MAIL_UID
virtual_gid_maps = static:$MAIL_GID
virtual_minimum_uid = 1

# Mail that could not be delivered at once is retried quickly.
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 10s

# TLS and SASL are switched on only by the submission service in master.cf, so port
# $SMTP_PORT stays plain SMTP without STARTTLS.
smtpd_tls_security_level = none
smtpd_tls_cert_file = $TLS/server.pem
smtpd_tls_key_file = $TLS/server.key
smtpd_tls_protocols = >=TLSv1.2
smtpd_sasl_type = dovecot
smtpd_sasl_path = $DOVECOT_BASE/auth-postfix
smtpd_sasl_auth_enable = no
# Dovecot offers XOAUTH2 and OAUTHBEARER for its oauth.test users; submission keeps to these.
smtpd_sasl_mechanism_filter = plain, login
EOF

cat >"$POSTFIX_CONF/master.cf" <<EOF
# Generated by test/servers/start.sh. Nothing is chrooted (paths are absolute).
# service type  private unpriv chroot wakeup maxproc command + args
$HOST:$SMTP_PORT inet n - n - - smtpd
$HOST:$SUBMISSION_PORT inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
chmod 644 "$POSTFIX_CONF/main.cf" "$POSTFIX_CONF/master.cf"
: >"$POSTFIX_LOG"

# Make the queue and data directories exactly as the package's own list (postfix-files)
# says, then start with quick-start: `postfix start` would otherwise run post-install
# and an integrity scan of the queue, ~2-3 s on this 2-core machine.
postfix_files="$(postconf -c "$POSTFIX_CONF" -h meta_directory)/postfix-files"
start_mode=full
if [ -f "$postfix_files" ]; then
  while IFS=: read -r path type owner group mode _; do
    [ "$type" = d ] || continue
    case "$path" in
      '$queue_directory'*) path="$POSTFIX_QUEUE${path#\$queue_directory}" ;;
      '$data_directory'*) path="$POSTFIX_DATA${path#\$data_directory}" ;;
      *) continue ;;
    esac
    owner="${owner/\$mail_owner/postfix}"
    group="${group/\$setgid_group/postdrop}"
    mkdir -p "$path"
    chown "$owner" "$path"
    [ "$group" = - ] || chgrp "$group" "$path"
    chmod "$mode" "$path"
  done <"$postfix_files"
  start_mode=quick
fi
postfix_start "$start_mode"

# --- Courier and Cyrus (unpacked packages, see packages.sh) ------------------------------
bash "$SERVERS_SRC/courier.sh" start 9>&-
bash "$SERVERS_SRC/cyrus.sh" start 9>&-
