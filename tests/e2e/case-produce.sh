#!/bin/bash
# tests/e2e/case-produce.sh - single broker under the shim (pmem), with a PLAINTEXT and an SSL listener
# (keystore and truststore made with keytool here). Topic "plain" (preallocate=false) is produced with
# kcat over PLAINTEXT, topic "prealloc" (preallocate=true: Kafka setLength()s each new segment to
# segment.bytes) with the acked Java producer over SSL (truststore). Both are consumed over PLAINTEXT
# (the broker sends with sendfile: the shim serves it from the pool) and over SSL (the broker reads with
# pread and encrypts: the shim serves the reads from the pool), and every record is verified. The pool's
# counters must show those sends and reads served from the pool.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case_begin produce
N=${E2E_PRODUCE_RECORDS:-12000}

# ---- keystore (broker), PEM CA (kcat), truststore (Java clients)
E2E_SSL_DIR="$E2E_WORK/ssl"
mkdir -p "$E2E_SSL_DIR"
keytool -genkeypair -alias broker -keyalg RSA -keysize 2048 -validity 2 -dname "CN=127.0.0.1" \
	-ext "SAN=ip:127.0.0.1,dns:localhost" -storetype PKCS12 -keystore "$E2E_SSL_DIR/broker.p12" \
	-storepass e2e-secret -keypass e2e-secret >"$E2E_SSL_DIR/keytool.out" 2>&1 &&
	keytool -exportcert -rfc -alias broker -keystore "$E2E_SSL_DIR/broker.p12" -storepass e2e-secret \
		-file "$E2E_SSL_DIR/ca.pem" >>"$E2E_SSL_DIR/keytool.out" 2>&1 &&
	keytool -importcert -noprompt -alias ca -file "$E2E_SSL_DIR/ca.pem" -storetype PKCS12 \
		-keystore "$E2E_SSL_DIR/trust.p12" -storepass e2e-secret >>"$E2E_SSL_DIR/keytool.out" 2>&1 ||
	{ cat "$E2E_SSL_DIR/keytool.out"; die "keytool: keystore/truststore"; }
ok "keystore, CA certificate and truststore made with keytool"

e2e_config b 1 ""
e2e_shim b pmem 256M
e2e_format b || die "format"
e2e_start b || die "broker start under the shim"
SSLBOOT=${E2E_SSLBOOT[b]}
KCAT_SSL=(-X security.protocol=ssl -X "ssl.ca.location=$E2E_SSL_DIR/ca.pem")
JAVA_SSL=(security.protocol=SSL "ssl.truststore.location=$E2E_SSL_DIR/trust.p12" ssl.truststore.password=e2e-secret
	ssl.truststore.type=PKCS12)

topic b plain 3 preallocate=false || die "create topic plain"
topic b prealloc 3 preallocate=true || die "create topic prealloc"

py gen 0 "$N" 11 >"$E2E_WORK/plain.in"
py gen 0 "$N" 12 >"$E2E_WORK/prealloc.in"
note "producing $N records to plain (kcat, PLAINTEXT) and $N to prealloc (Java producer, SSL)"
expect "kcat produced $N records to plain over PLAINTEXT" produce b plain "$E2E_WORK/plain.in"
tool produce "$SSLBOOT" prealloc "$E2E_WORK/prealloc.acks" 0 "${JAVA_SSL[@]}" \
	<"$E2E_WORK/prealloc.in" 2>"$E2E_WORK/prealloc.err"
rc=$?
expect "the Java producer got every one of $N records acknowledged over SSL (status $rc)" test $rc -eq 0
[ $rc -eq 0 ] || tail -n 5 "$E2E_WORK/prealloc.err"

# preallocation is visible while the broker runs: each active segment of prealloc has segment.bytes as
# its size (sparse), the ones of plain have their real size
pre_sizes=$(for p in 0 1 2; do ls "${E2E_DIR[b]}/logs/prealloc-$p"/*.log | sort | tail -n1 | xargs stat -c '%s %b'; done)
note "active segments of prealloc (size, 512-byte blocks allocated): $(echo $pre_sizes)"
expect "preallocate=true: every active prealloc segment has the preallocated size 1048576 and is sparse" \
	awk '$1 != 1048576 || $2 * 512 > 262144 { bad = 1 } END { exit bad }' <<<"$pre_sizes"

used_pool_check b produced

s0=$(py pool stats "${E2E_POOL[b]}")
sent0=$(kv bytes_sent_pool "$s0") read0=$(kv bytes_read_pool "$s0")
for t in plain prealloc; do
	consume b "$t" "$E2E_WORK/$t.plain.out" || notok "kcat consumed $t over PLAINTEXT"
	run_check "$t PLAINTEXT" py verify "$N" 3 <"$E2E_WORK/$t.plain.out"
done
s1=$(py pool stats "${E2E_POOL[b]}")
sent1=$(kv bytes_sent_pool "$s1") read1=$(kv bytes_read_pool "$s1")
bytes=$(cat "$E2E_WORK"/plain.in "$E2E_WORK"/prealloc.in | wc -c)
note "PLAINTEXT consume: pool bytes sent (sendfile) +$((sent1 - sent0)), read (pread) +$((read1 - read0)); $bytes bytes of records"
expect "PLAINTEXT: the broker's sendfile was served from the pool (bytes_sent_pool +$((sent1 - sent0)) >= records' $bytes bytes * 0.9)" \
	test $((sent1 - sent0)) -ge $((bytes * 9 / 10))

for t in plain prealloc; do
	consume b "$t" "$E2E_WORK/$t.ssl.out" -b "$SSLBOOT" "${KCAT_SSL[@]}" || notok "kcat consumed $t over SSL"
	run_check "$t SSL" py verify "$N" 3 <"$E2E_WORK/$t.ssl.out"
	expect "$t: SSL and PLAINTEXT consumers saw identical records" same_records "$E2E_WORK/$t.plain.out" "$E2E_WORK/$t.ssl.out"
done
s2=$(py pool stats "${E2E_POOL[b]}")
read2=$(kv bytes_read_pool "$s2") sent2=$(kv bytes_sent_pool "$s2")
note "SSL consume: pool bytes read (pread) +$((read2 - read1)), sent +$((sent2 - sent1))"
expect "SSL: the broker's reads were served from the pool (bytes_read_pool +$((read2 - read1)) >= records' $bytes bytes * 0.9)" \
	test $((read2 - read1)) -ge $((bytes * 9 / 10))
used_pool_check b consumed

# rolled segments of prealloc were trimmed back to their real size by Kafka (truncate through the shim)
rolled=$(for p in 0 1 2; do ls "${E2E_DIR[b]}/logs/prealloc-$p"/*.log | sort | head -n -1; done | xargs -r stat -c '%s')
note "rolled prealloc segment sizes: $(echo $rolled)"
expect "preallocate=true: rolled segments exist and were trimmed below 1048576" \
	awk 'BEGIN { n = 0 } { n++; if ($1 >= 1048576) bad = 1 } END { exit bad || n == 0 }' <<<"$rolled"
no_errors b
exit 0
