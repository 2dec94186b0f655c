/*
 * tests/e2e/E2eTool.java - the small Kafka client the end-to-end suite needs beyond kcat, compiled at test
 * time against the fetched kafka-clients jar (tests/e2e/lib.sh: e2e_tool_build) and run with plain java
 * (never under the shim).
 *
 *   E2eTool admin BOOTSTRAP create TOPIC PARTITIONS RF [k=v ...]   create, then wait until every partition
 *                                                                  has a leader and a full ISR
 *   E2eTool admin BOOTSTRAP delete TOPIC                           delete (and wait until it is gone)
 *   E2eTool admin BOOTSTRAP alter TOPIC k=v ...                    incrementalAlterConfigs SET
 *   E2eTool admin BOOTSTRAP offsets TOPIC                          "PARTITION EARLIEST LATEST" lines
 *   E2eTool admin BOOTSTRAP isr TOPIC                              "PARTITION LEADER ISR(comma list)" lines
 *   E2eTool admin BOOTSTRAP wait-isr TOPIC SIZE TIMEOUT_S          until every partition's ISR has SIZE ids
 *   E2eTool produce BOOTSTRAP TOPIC ACKFILE [RATE [k=v ...]]  < "KEY:VALUE" lines
 *        acks=all, idempotent; one "ack PARTITION OFFSET SEQ" line per acknowledged record and one
 *        "err SEQ EXCEPTION" line per failed one in ACKFILE (SEQ: the value up to its first '|'); RATE
 *        records/s (0: unthrottled). Exit 0 when every record was acknowledged, 2 when some failed.
 *   E2eTool txn BOOTSTRAP TOPIC TXID NTX PERTX COMMITFILE
 *        NTX transactions of PERTX records (seq 0.., the records.py value format); every third one (i % 3
 *        == 1) is aborted, the others committed; the committed seqs go to COMMITFILE, one per line.
 */
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.FileWriter;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.serialization.StringSerializer;

public final class E2eTool {
	private E2eTool() {
	}

	static void die(String msg) {
		System.err.println("E2eTool: " + msg);
		System.exit(1);
	}

	static Map<String, String> kv(String[] a, int from) {
		Map<String, String> m = new HashMap<>();
		for (int i = from; i < a.length; i++) {
			int eq = a[i].indexOf('=');
			if (eq <= 0)
				die("expected k=v, got " + a[i]);
			m.put(a[i].substring(0, eq), a[i].substring(eq + 1));
		}
		return m;
	}

	public static void main(String[] a) throws Exception {
		if (a.length < 2)
			die("usage: see the comment at the top of E2eTool.java");
		switch (a[0]) {
		case "admin":
			System.exit(admin(a));
			break;
		case "produce":
			System.exit(produce(a));
			break;
		case "txn":
			System.exit(txn(a));
			break;
		default:
			die("unknown command " + a[0]);
		}
	}

	// ---------------------------------------------------------------- admin
	static Admin admin(String bootstrap) {
		Properties p = new Properties();
		p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
		p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
		p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
		return Admin.create(p);
	}

	static Map<Integer, TopicPartitionInfo> describe(Admin ad, String topic) throws Exception {
		TopicDescription d = ad.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic);
		Map<Integer, TopicPartitionInfo> m = new TreeMap<>();
		for (TopicPartitionInfo i : d.partitions())
			m.put(i.partition(), i);
		return m;
	}

	static boolean healthy(Map<Integer, TopicPartitionInfo> m, int n, int isr) {
		if (m.size() != n)
			return false;
		for (TopicPartitionInfo i : m.values())
			if (i.leader() == null || i.leader().id() < 0 || i.isr().size() < isr)
				return false;
		return true;
	}

	static int admin(String[] a) throws Exception {
		if (a.length < 4)
			die("admin BOOTSTRAP OP TOPIC ...");
		String op = a[2], topic = a[3];
		try (Admin ad = admin(a[1])) {
			switch (op) {
			case "create": {
				int n = Integer.parseInt(a[4]);
				short rf = Short.parseShort(a[5]);
				NewTopic t = new NewTopic(topic, n, rf).configs(kv(a, 6));
				ad.createTopics(List.of(t)).all().get(60, TimeUnit.SECONDS);
				long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
				while (true) {
					try {
						if (healthy(describe(ad, topic), n, rf))
							return 0;
					} catch (ExecutionException e) {
						if (!(e.getCause() instanceof UnknownTopicOrPartitionException))
							throw e;
					}
					if (System.nanoTime() > end)
						die("topic " + topic + " has no full ISR after 60s");
					Thread.sleep(200);
				}
			}
			case "delete": {
				ad.deleteTopics(List.of(topic)).all().get(60, TimeUnit.SECONDS);
				long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
				while (ad.listTopics().names().get(30, TimeUnit.SECONDS).contains(topic)) {
					if (System.nanoTime() > end)
						die("topic " + topic + " still listed 60s after deletion");
					Thread.sleep(200);
				}
				return 0;
			}
			case "alter": {
				List<AlterConfigOp> ops = new ArrayList<>();
				for (Map.Entry<String, String> e : kv(a, 4).entrySet())
					ops.add(new AlterConfigOp(new ConfigEntry(e.getKey(), e.getValue()), AlterConfigOp.OpType.SET));
				ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
				ad.incrementalAlterConfigs(Map.of(r, (Collection<AlterConfigOp>) ops)).all().get(60, TimeUnit.SECONDS);
				return 0;
			}
			case "offsets": {
				Map<Integer, TopicPartitionInfo> m = describe(ad, topic);
				Map<TopicPartition, OffsetSpec> e = new HashMap<>(), l = new HashMap<>();
				for (int p : m.keySet()) {
					e.put(new TopicPartition(topic, p), OffsetSpec.earliest());
					l.put(new TopicPartition(topic, p), OffsetSpec.latest());
				}
				var er = ad.listOffsets(e).all().get(30, TimeUnit.SECONDS);
				var lr = ad.listOffsets(l).all().get(30, TimeUnit.SECONDS);
				for (int p : m.keySet()) {
					TopicPartition tp = new TopicPartition(topic, p);
					System.out.println(p + " " + er.get(tp).offset() + " " + lr.get(tp).offset());
				}
				return 0;
			}
			case "isr": {
				for (TopicPartitionInfo i : describe(ad, topic).values()) {
					StringBuilder sb = new StringBuilder();
					for (Node n : i.isr())
						sb.append(sb.length() > 0 ? "," : "").append(n.id());
					System.out.println(i.partition() + " " + (i.leader() == null ? -1 : i.leader().id()) + " " + sb);
				}
				return 0;
			}
			case "wait-isr": {
				int size = Integer.parseInt(a[4]);
				long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(Long.parseLong(a[5]));
				Map<Integer, TopicPartitionInfo> m = null;
				while (System.nanoTime() < end) {
					try {
						m = describe(ad, topic);
						if (healthy(m, m.size(), size))
							return 0;
					} catch (Exception e) {
						// a broker is still starting: retry
					}
					Thread.sleep(300);
				}
				System.err.println("E2eTool: ISR of " + topic + " not " + size + " replicas: " + m);
				return 1;
			}
			default:
				die("unknown admin op " + op);
			}
		}
		return 1;
	}

	// ---------------------------------------------------------------- acknowledged produce
	static String seqOf(String value) {
		int bar = value.indexOf('|');
		return bar < 0 ? "?" : value.substring(0, bar);
	}

	static int produce(String[] a) throws Exception {
		if (a.length < 4)
			die("produce BOOTSTRAP TOPIC ACKFILE [RATE [k=v ...]]");
		String topic = a[2];
		double rate = a.length > 4 ? Double.parseDouble(a[4]) : 0;
		Properties p = new Properties();
		p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, a[1]);
		p.put(ProducerConfig.ACKS_CONFIG, "all");
		p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
		p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
		p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "120000");
		p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
		p.put(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, "200");
		p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
		p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
		p.putAll(kv(a, 5));
		AtomicLong acked = new AtomicLong(), failed = new AtomicLong();
		long sent = 0, t0 = System.nanoTime();
		try (BufferedWriter out = new BufferedWriter(new FileWriter(a[3], StandardCharsets.UTF_8));
		     KafkaProducer<String, String> pr = new KafkaProducer<>(p);
		     BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8), 1 << 20)) {
			String line;
			while ((line = in.readLine()) != null) {
				int c = line.indexOf(':');
				if (c < 0)
					continue;
				String k = line.substring(0, c), v = line.substring(c + 1), seq = seqOf(v);
				pr.send(new ProducerRecord<>(topic, k, v), (md, ex) -> {
					synchronized (out) {
						try {
							if (ex == null) {
								out.write("ack " + md.partition() + " " + md.offset() + " " + seq + "\n");
								if (acked.incrementAndGet() % 500 == 0)
									out.flush(); // progress the test can watch
							} else {
								out.write("err " + seq + " " + ex.getClass().getSimpleName() + "\n");
								failed.incrementAndGet();
							}
						} catch (java.io.IOException e) {
							throw new RuntimeException(e);
						}
					}
				});
				sent++;
				if (rate > 0) {
					long due = t0 + (long) (sent * 1e9 / rate);
					long now = System.nanoTime();
					if (due > now)
						Thread.sleep((due - now) / 1000000, (int) ((due - now) % 1000000));
				}
			}
			pr.flush();
		}
		System.err.println("E2eTool produce: sent " + sent + ", acked " + acked.get() + ", failed " + failed.get());
		return failed.get() == 0 && acked.get() == sent ? 0 : 2;
	}

	// ---------------------------------------------------------------- transactions
	static String checksum(long seq, String key, String data) throws Exception {
		MessageDigest md = MessageDigest.getInstance("SHA-256");
		byte[] h = md.digest((seq + "|" + key + "|" + data).getBytes(StandardCharsets.UTF_8));
		StringBuilder sb = new StringBuilder();
		for (byte b : h)
			sb.append(String.format("%02x", b));
		return sb.substring(0, 24);
	}

	static int txn(String[] a) throws Exception {
		if (a.length < 7)
			die("txn BOOTSTRAP TOPIC TXID NTX PERTX COMMITFILE");
		String topic = a[2];
		int ntx = Integer.parseInt(a[4]), per = Integer.parseInt(a[5]);
		Properties p = new Properties();
		p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, a[1]);
		p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, a[3]);
		p.put(ProducerConfig.ACKS_CONFIG, "all");
		p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
		p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
		p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
		Random rnd = new Random(ntx * 1000003L + per);
		long seq = 0, committed = 0, aborted = 0;
		try (BufferedWriter out = new BufferedWriter(new FileWriter(a[6], StandardCharsets.UTF_8));
		     KafkaProducer<String, String> pr = new KafkaProducer<>(p)) {
			pr.initTransactions();
			for (int t = 0; t < ntx; t++) {
				boolean abort = t % 3 == 1;
				List<Long> mine = new ArrayList<>();
				pr.beginTransaction();
				for (int i = 0; i < per; i++, seq++) {
					String key = String.format("k%04d", seq % 1000);
					int n = 50 + rnd.nextInt(2000);
					byte[] raw = new byte[n];
					rnd.nextBytes(raw);
					String data = Base64.getEncoder().encodeToString(raw).substring(0, n);
					String v = seq + "|" + key + "|" + n + "|" + data + "|" + checksum(seq, key, data);
					pr.send(new ProducerRecord<>(topic, key, v));
					mine.add(seq);
				}
				if (abort) {
					pr.flush(); // the aborted records really reach the log before the abort marker
					pr.abortTransaction();
					aborted += mine.size();
				} else {
					pr.commitTransaction();
					for (long s : mine)
						out.write(s + "\n");
					committed += mine.size();
				}
			}
		}
		System.err.println("E2eTool txn: " + committed + " committed, " + aborted + " aborted records");
		return 0;
	}
}
